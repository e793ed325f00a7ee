{{ config(enabled=liine_enabled("interactly")) }}
-- One row per integration, appointment type and UTC day with appointments: successful and failed.
{%- set column = liine_columns("appointment_trends") %}
with latest as (
    {{ latest_rows("appointment_trends", ["integration_id", "appointment_type", "date"]) }}
)

select
    cast(integration_id as {{ dbt.type_string() }}) as integration_id,
    cast(appointment_type as {{ dbt.type_string() }}) as appointment_type,
    cast(date as date) as appointment_date,
    cast({{ column.successful }} as {{ dbt.type_bigint() }}) as successful,
    cast({{ column.failed }} as {{ dbt.type_bigint() }}) as failed
from latest
