-- Data events on the data bucket per day (UTC, of the call) and operation since 30 days ago: calls, failed calls and distinct principals, oldest day first, then by operation. Past days are read from the compact table, yesterday once the daily compaction has run (00:05 UTC).
WITH events AS (
    -- Past days from the compact table: the home region's data events only, and only these columns.
    SELECT eventtime, coalesce(useridentity.arn, useridentity.invokedby, useridentity.principalid) AS principal,
           eventsource, eventname, requestparameters, errorcode
    FROM cloudtrail_compact
    WHERE day >= date_format(current_date - INTERVAL '30' DAY, '%Y-%m-%d')
      AND day < date_format(current_date, '%Y-%m-%d')
      AND category = 'Data'
      AND region = '{{home_region}}'
    UNION ALL
    -- Today from the logs: the compaction copies a day just after it ends (05 past midnight UTC).
    SELECT eventtime, coalesce(useridentity.arn, useridentity.invokedby, useridentity.principalid) AS principal,
           eventsource, eventname, requestparameters, errorcode
    FROM home_region_events
    WHERE timestamp = date_format(current_date, '%Y/%m/%d')
      AND eventcategory = 'Data'
)
SELECT
    substr(eventtime, 1, 10) AS event_day,
    eventname,
    count(*) AS calls,
    count_if(errorcode IS NOT NULL) AS failed_calls,
    count(DISTINCT principal) AS principals
FROM events
-- A day's folder can begin with the last calls of the day before, delivered after midnight: they
-- are left out, so that the first day counts its own calls only (all in this or later folders).
WHERE eventtime >= date_format(current_date - INTERVAL '30' DAY, '%Y-%m-%d')
  AND eventsource = 's3.amazonaws.com'
  AND json_extract_scalar(requestparameters, '$.bucketName') = '{{data_bucket}}'
GROUP BY 1, 2
ORDER BY event_day, eventname;
