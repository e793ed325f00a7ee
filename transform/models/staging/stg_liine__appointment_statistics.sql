{{ config(enabled=liine_enabled("interactly")) }}
-- One row per integration, appointment type and UTC day: how many appointments.
{%- set column = liine_columns("appointment_statistics") %}
with latest as (
    {{ latest_rows("appointment_statistics", ["integration_id", "appointment_type", "date"]) }}
)

select
    cast(integration_id as {{ dbt.type_string() }}) as integration_id,
    cast(appointment_type as {{ dbt.type_string() }}) as appointment_type,
    cast(date as date) as appointment_date,
    cast({{ column.total }} as {{ dbt.type_bigint() }}) as appointments
from latest
