-- One row per interaction (the newest version), typed and named for reporting.
-- Time policy (README): `started_at` is the UTC instant (start_time_tz); `started_at_local`
-- the practice's wall clock (start_time, which the API writes with a misleading Z);
-- `activity_date` the practice's local day, or the UTC day when the API gives no local time.
with latest as (
    {{ latest_rows(source("liine", "interactions"), ["id"], "updated_at") }}
),

typed as (
    select
        cast(id as {{ dbt.type_bigint() }}) as interaction_id,
        cast(customer_id as {{ dbt.type_bigint() }}) as customer_id,
        lead_id,
        interaction_type,
        direction,
        cast(start_time_tz as {{ dbt.type_timestamp() }}) as started_at,
        {{ wall_clock("start_time") }} as started_at_local,
        cast(updated_at as {{ dbt.type_timestamp() }}) as updated_at,
        cast(duration as {{ dbt.type_float() }}) as duration_seconds,
        status as connection_status,
        call_status,
        call_type,
        call_complete,
        voicemail,
        agent,
        cast(agent_id as {{ dbt.type_bigint() }}) as agent_id,
        outcome,
        reason_not_booked,
        is_booked_later,
        cast(booked_later_interaction_id as {{ dbt.type_bigint() }}) as booked_later_interaction_id,
        intent_level,
        is_new as is_new_lead,
        is_existing_patient,
        first_time_interaction as is_first_interaction,
        coalesce(is_spam_likely, false) as is_spam_likely,
        initial_marketing_channel as first_touch_channel,
        initial_location as first_touch_location,
        initial_division as first_touch_division,
        initial_utm_source as first_touch_utm_source,
        initial_utm_medium as first_touch_utm_medium,
        initial_utm_campaign as first_touch_utm_campaign,
        last_touch_marketing_channel as last_touch_channel,
        last_touch_location,
        last_touch_division,
        last_touch_utm_source,
        last_touch_utm_medium,
        last_touch_utm_campaign,
        appointment_location,
        appointment_status,
        cast(revenue as {{ dbt.type_numeric() }}) as revenue
    from latest
)

select
    *,
    cast(coalesce(started_at_local, started_at) as date) as activity_date,
    cast(extract(hour from coalesce(started_at_local, started_at)) as {{ dbt.type_int() }}) as activity_hour
from typed
