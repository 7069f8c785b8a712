-- Successful console sign-ins without MFA by IAM users and the root user since 30 days ago, newest first (federated sign-ins are left out: their MFA is the identity provider's). Past days are read from the compact table, yesterday once the daily compaction has run (00:05 UTC).
WITH events AS (
    -- Past days from the compact table: management events only, and only these columns.
    SELECT eventtime, useridentity.type AS identity_type, useridentity.arn AS principal,
           sourceipaddress, useragent, eventsource, eventname, responseelements, additionaleventdata
    FROM cloudtrail_compact
    WHERE day >= date_format(current_date - INTERVAL '30' DAY, '%Y-%m-%d')
      AND day < date_format(current_date, '%Y-%m-%d')
      AND category = 'Management'
    UNION ALL
    -- Today from the logs: the compaction copies a day just after it ends (05 past midnight UTC).
    SELECT eventtime, useridentity.type AS identity_type, useridentity.arn AS principal,
           sourceipaddress, useragent, eventsource, eventname, responseelements, additionaleventdata
    FROM cloudtrail
    WHERE timestamp = date_format(current_date, '%Y/%m/%d')
      AND coalesce(eventcategory, 'Management') = 'Management'
)
SELECT
    eventtime,
    identity_type,
    principal,
    sourceipaddress,
    useragent
FROM events
WHERE eventsource = 'signin.amazonaws.com'
  AND eventname = 'ConsoleLogin'
  AND identity_type IN ('IAMUser', 'Root')
  AND json_extract_scalar(responseelements, '$.ConsoleLogin') = 'Success'
  AND json_extract_scalar(additionaleventdata, '$.MFAUsed') = 'No'
ORDER BY eventtime DESC;
