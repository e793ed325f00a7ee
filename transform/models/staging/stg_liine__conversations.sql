{{ config(enabled=liine_enabled("conversations")) }}
-- One row per conversation (the newest version). Any column but the key may be absent
-- (mapped away or deselected, macro liine_columns): null.
{%- set column = liine_columns("conversations") %}
with latest as (
    {{ latest_rows("conversations", ["id"], "updated_at") }}
)

select
    cast(id as {{ dbt.type_bigint() }}) as conversation_id,
    cast({{ column.location_id }} as {{ dbt.type_string() }}) as location_id,
    {{ column.subdomain }} as subdomain,
    cast({{ column.created_at }} as {{ dbt.type_timestamp() }}) as created_at,
    cast({{ column.updated_at }} as {{ dbt.type_timestamp() }}) as updated_at,
    cast({{ json_text(column.patient, "id") }} as {{ dbt.type_bigint() }}) as patient_id
from latest
