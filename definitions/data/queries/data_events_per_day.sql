-- Data events on the data bucket per day (UTC, of the call) and operation since 30 days ago: calls, failed calls and distinct principals, oldest day first, then by operation.
SELECT
    substr(eventtime, 1, 10) AS event_day,
    eventname,
    count(*) AS calls,
    count_if(errorcode IS NOT NULL) AS failed_calls,
    count(DISTINCT coalesce(useridentity.arn, useridentity.invokedby, useridentity.principalid)) AS principals
FROM home_region_events
WHERE timestamp >= date_format(current_date - INTERVAL '30' DAY, '%Y/%m/%d')
  -- A day's folder can begin with the last calls of the day before, delivered after midnight: they
  -- are left out, so that the first day counts its own calls only (all in this or later folders).
  AND eventtime >= date_format(current_date - INTERVAL '30' DAY, '%Y-%m-%d')
  AND eventsource = 's3.amazonaws.com'
  AND eventcategory = 'Data'
  AND json_extract_scalar(requestparameters, '$.bucketName') = '{{data_bucket}}'
GROUP BY 1, 2
ORDER BY event_day, eventname;
