{{ config(enabled=liine_enabled("conversations")) }}
-- One row per message (the newest version); who sent it, from `sender_info.meta_type`.
-- The document lists no values for it: "Patient" (any case) is the patient, any other
-- value a member of the practice's staff ("User" so far); `sender_type` is it lower-cased,
-- read whether the API sends it plain or as {"value": ...}. Any column but the key may be
-- absent (mapped away or deselected, macro liine_columns): null; without sender_info no
-- message is known to be the patient's.
{%- set column = liine_columns("conversation_messages") %}
with latest as (
    {{ latest_rows("conversation_messages", ["id"], "updated_at") }}
),

typed as (
    select
        cast(id as {{ dbt.type_bigint() }}) as message_id,
        cast({{ column.conversation_id }} as {{ dbt.type_bigint() }}) as conversation_id,
        cast({{ column.location_id }} as {{ dbt.type_string() }}) as location_id,
        cast({{ column.created_at }} as {{ dbt.type_timestamp() }}) as created_at,
        cast({{ column.updated_at }} as {{ dbt.type_timestamp() }}) as updated_at,
        {{ category(json_value_text(column.sender_info, "meta_type")) }} as sender_type,
        {{ column.body }} as body,
        {{ column.attachment_file_name }} is not null as has_attachment
    from latest
)

select
    *,
    coalesce(sender_type = 'patient', false) as is_from_patient,
    coalesce(sender_type <> 'patient', false) as is_from_practice,
    {{ practice_time("created_at") }} as created_at_local
from typed
