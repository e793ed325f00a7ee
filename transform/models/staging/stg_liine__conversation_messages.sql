-- One row per message (the newest version); who sent it, from `sender_info.meta_type`
-- ("Patient" for the patient; a staff member otherwise).
with latest as (
    {{ latest_rows(source("liine", "conversation_messages"), ["id"], "updated_at") }}
),

typed as (
    select
        cast(id as {{ dbt.type_bigint() }}) as message_id,
        cast(conversation_id as {{ dbt.type_bigint() }}) as conversation_id,
        cast(location_id as {{ dbt.type_string() }}) as location_id,
        cast(created_at as {{ dbt.type_timestamp() }}) as created_at,
        cast(updated_at as {{ dbt.type_timestamp() }}) as updated_at,
        {{ json_text("sender_info", "meta_type") }} as sender_type,
        body,
        attachment_file_name is not null as has_attachment
    from latest
)

select
    *,
    coalesce(sender_type = 'Patient', false) as is_from_patient,
    coalesce(sender_type <> 'Patient', false) as is_from_practice
from typed
