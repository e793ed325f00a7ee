{{ config(enabled=liine_enabled("liine")) }}
-- One row per interaction (the newest version), typed and named for reporting.
-- Time policy (README): `started_at` is the UTC instant (start_time_tz); `started_at_local`
-- the practice's wall clock (start_time, which the API writes with a misleading Z), or
-- started_at in `tap_liine__timezone` when the API gives no local time; `activity_date` its day.
-- Categories are read by meaning (macro `category`): the Liine document spells the call
-- status three ways ("Complete" in its sample, "Answered"/"Not Answered" in its filter,
-- "Connected"/"Not Connected" in its field list), any case. Any column but the key may be
-- absent (mapped away or deselected, macro liine_columns): null.
{%- set column = liine_columns("interactions") %}
with latest as (
    {{ latest_rows("interactions", ["id"], "updated_at") }}
),

typed as (
    select
        cast(id as {{ dbt.type_bigint() }}) as interaction_id,
        cast({{ column.customer_id }} as {{ dbt.type_bigint() }}) as customer_id,
        {{ column.lead_id }} as lead_id,
        {{ column.interaction_type }} as interaction_type,
        {{ column.direction }} as direction,
        cast({{ column.start_time_tz }} as {{ dbt.type_timestamp() }}) as started_at,
        coalesce({{ wall_clock(column.start_time) }}, {{ practice_time("cast(" ~ column.start_time_tz ~ " as " ~ dbt.type_timestamp() ~ ")") }})
            as started_at_local,
        cast({{ column.updated_at }} as {{ dbt.type_timestamp() }}) as updated_at,
        cast({{ column.duration }} as {{ dbt.type_float() }}) as duration_seconds,
        {{ column.status }} as connection_status,
        {{ column.call_status }} as call_status,
        {{ column.call_type }} as call_type,
        {{ column.call_complete }} as call_complete,
        {{ column.voicemail }} as voicemail,
        {{ column.agent }} as agent,
        cast({{ column.agent_id }} as {{ dbt.type_bigint() }}) as agent_id,
        {{ column.outcome }} as outcome,
        {{ column.reason_not_booked }} as reason_not_booked,
        {{ column.is_booked_later }} as is_booked_later,
        cast({{ column.booked_later_interaction_id }} as {{ dbt.type_bigint() }}) as booked_later_interaction_id,
        {{ column.intent_level }} as intent_level,
        {{ column.is_new }} as is_new_lead,
        {{ column.is_existing_patient }} as is_existing_patient,
        {{ column.first_time_interaction }} as is_first_interaction,
        coalesce({{ column.is_spam_likely }}, false) as is_spam_likely,
        {{ column.initial_marketing_channel }} as first_touch_channel,
        {{ column.initial_location }} as first_touch_location,
        {{ column.initial_division }} as first_touch_division,
        {{ column.initial_utm_source }} as first_touch_utm_source,
        {{ column.initial_utm_medium }} as first_touch_utm_medium,
        {{ column.initial_utm_campaign }} as first_touch_utm_campaign,
        {{ column.last_touch_marketing_channel }} as last_touch_channel,
        {{ column.last_touch_location }} as last_touch_location,
        {{ column.last_touch_division }} as last_touch_division,
        {{ column.last_touch_utm_source }} as last_touch_utm_source,
        {{ column.last_touch_utm_medium }} as last_touch_utm_medium,
        {{ column.last_touch_utm_campaign }} as last_touch_utm_campaign,
        {{ column.appointment_location }} as appointment_location,
        {{ column.appointment_status }} as appointment_status,
        cast({{ column.revenue }} as {{ dbt.type_numeric() }}) as revenue
    from latest
)

select
    *,
    cast(started_at_local as date) as activity_date,
    cast(extract(hour from started_at_local) as {{ dbt.type_int() }}) as activity_hour,
    coalesce({{ category("interaction_type") }} = 'call', false) as is_call,
    coalesce({{ category("direction") }} = 'inbound', false) as is_inbound,
    coalesce({{ category("connection_status") }} in ('connected', 'answered', 'complete'), false) as is_answered,
    coalesce({{ category("connection_status") }} in ('not connected', 'not answered', 'busy'), false) as is_missed,
    coalesce({{ category("outcome") }} = 'booked', false) as is_outcome_booked,
    coalesce({{ category("outcome") }} = 'booked later', false) as is_outcome_booked_later,
    coalesce({{ category("outcome") }} = 'not booked', false) as is_outcome_not_booked,
    case
        when reason_not_booked is null then null
        when {{ category("reason_not_booked") }} = 'price objection' then 'price'
        when {{ category("reason_not_booked") }} = 'caller procrastination' then 'procrastination'
        else 'other'
    end as reason_not_booked_group,
    coalesce({{ category("appointment_status") }} = 'attended', false) as is_attended,
    coalesce({{ category("appointment_status") }} in ('canceled / no show', 'assumed no show'), false) as is_no_show
from typed
