{{ config(enabled=liine_enabled("interactly")) }}
-- The statistics' breakdown lists as rows: one per integration, type, UTC day, dimension
-- (source, utm_source, utm_medium, utm_campaign) and value, with its appointments.
{%- set dimensions = ["source", "utm_source", "utm_medium", "utm_campaign"] %}
{%- set column = liine_columns("appointment_statistics", "latest") %}
with latest as (
    {{ latest_rows("appointment_statistics", ["integration_id", "appointment_type", "date"]) }}
)

{% for dimension in dimensions %}
select
    cast(latest.integration_id as {{ dbt.type_string() }}) as integration_id,
    cast(latest.appointment_type as {{ dbt.type_string() }}) as appointment_type,
    cast(latest.date as date) as appointment_date,
    '{{ dimension }}' as dimension,
    {{ json_text(list_element(), "_id") }} as value,
    cast({{ json_text(list_element(), "count") }} as {{ dbt.type_bigint() }}) as appointments
from latest
{{ list_elements(column[dimension]) }}
{% if not loop.last %}union all{% endif %}
{% endfor %}
