-- Today's calls (UTC) from a region, or a source address, that no call came from in the 30 days before (since 30 days ago, today left out), one row per novelty, value and principal, ordered so: a new region or address often means leaked credentials. Calls by AWS services (their own, and those they make through service-linked roles) are left out of today and of the 30 days alike: they touch every enabled region every day.
WITH calls AS (
    SELECT
        timestamp,
        awsregion,
        sourceipaddress,
        eventtime,
        coalesce(useridentity.arn, useridentity.principalid) AS principal
    FROM cloudtrail
    WHERE timestamp >= date_format(current_date - INTERVAL '30' DAY, '%Y/%m/%d')
      AND useridentity.type <> 'AWSService'
      AND sourceipaddress NOT LIKE '%.amazonaws.com'
      AND sourceipaddress <> 'AWS Internal'
),
recent AS (
    SELECT awsregion, sourceipaddress, eventtime, principal
    FROM calls
    WHERE timestamp = date_format(current_date, '%Y/%m/%d')
),
baseline AS (
    SELECT DISTINCT awsregion, sourceipaddress
    FROM calls
    WHERE timestamp < date_format(current_date, '%Y/%m/%d')
)
SELECT 'region' AS novelty, awsregion AS seen, principal, count(*) AS calls, min(eventtime) AS first_call
FROM recent
WHERE awsregion NOT IN (SELECT awsregion FROM baseline WHERE awsregion IS NOT NULL)
GROUP BY 1, 2, 3
UNION ALL
SELECT 'source address' AS novelty, sourceipaddress AS seen, principal, count(*) AS calls, min(eventtime) AS first_call
FROM recent
WHERE sourceipaddress NOT IN (SELECT sourceipaddress FROM baseline WHERE sourceipaddress IS NOT NULL)
GROUP BY 1, 2, 3
ORDER BY novelty, seen, principal;
