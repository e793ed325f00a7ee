{{ config(enabled=liine_enabled("liine")) }}
-- Grain: activity day x attribution (first_touch, last_touch) x location x marketing channel.
-- Each interaction counts once under each attribution: by its lead's first touch (initial_*)
-- and by its newest touch (last_touch_*). Spam-likely interactions are left out.
with interactions as (
    select * from {{ ref("stg_liine__interactions") }}
    where not is_spam_likely
),

touches as (
    select
        'first_touch' as attribution,
        coalesce(first_touch_location, 'Unknown') as location,
        coalesce(first_touch_channel, 'Unknown') as marketing_channel,
        interactions.*
    from interactions
    union all
    select
        'last_touch' as attribution,
        coalesce(last_touch_location, 'Unknown') as location,
        coalesce(last_touch_channel, 'Unknown') as marketing_channel,
        interactions.*
    from interactions
)

select
    activity_date,
    attribution,
    location,
    marketing_channel,
    count(*) as interactions,
    {{ count_if("is_new_lead") }} as new_leads,
    {{ count_if("is_outcome_booked") }} as booked,
    {{ count_if("is_outcome_booked_later") }} as booked_later,
    {{ count_if("is_attended") }} as attended,
    {{ count_if("is_no_show") }} as no_shows,
    coalesce(sum(revenue), 0) as revenue
from touches
group by activity_date, attribution, location, marketing_channel
