{{ config(enabled=liine_enabled("interactly")) }}
-- Grain: integration x appointment type x UTC day (every day the statistics cover). The tap
-- asks Interactly for its statistics one UTC day at a time and sums the trends entries by
-- the UTC day they start on, so both halves of a row are keyed by the same day; a day of the
-- practice cannot be rebuilt from them (the API gives no finer times).
-- Top source and UTM values: the most appointments, ties broken alphabetically.
with ranked as (
    select
        *,
        row_number() over (
            partition by integration_id, appointment_type, appointment_date, dimension
            order by appointments desc, value
        ) as rank_in_day
    from {{ ref("stg_liine__appointment_breakdowns") }}
),

tops as (
    select
        integration_id,
        appointment_type,
        appointment_date,
        max(case when dimension = 'source' then value end) as top_source,
        max(case when dimension = 'source' then appointments end) as top_source_appointments,
        max(case when dimension = 'utm_source' then value end) as top_utm_source,
        max(case when dimension = 'utm_campaign' then value end) as top_utm_campaign,
        max(case when dimension = 'utm_campaign' then appointments end) as top_utm_campaign_appointments
    from ranked
    where rank_in_day = 1
    group by integration_id, appointment_type, appointment_date
),

days as (
    select
        coalesce(statistics.integration_id, trends.integration_id) as integration_id,
        coalesce(statistics.appointment_type, trends.appointment_type) as appointment_type,
        coalesce(statistics.appointment_date, trends.appointment_date) as appointment_date,
        statistics.appointments,
        coalesce(trends.successful, 0) as successful,
        coalesce(trends.failed, 0) as failed
    from {{ ref("stg_liine__appointment_statistics") }} as statistics
    full outer join {{ ref("stg_liine__appointment_trends") }} as trends
        on trends.integration_id = statistics.integration_id
        and trends.appointment_type = statistics.appointment_type
        and trends.appointment_date = statistics.appointment_date
)

select
    days.*,
    tops.top_source,
    tops.top_source_appointments,
    tops.top_utm_source,
    tops.top_utm_campaign,
    tops.top_utm_campaign_appointments
from days
left join tops
    on tops.integration_id = days.integration_id
    and tops.appointment_type = days.appointment_type
    and tops.appointment_date = days.appointment_date
