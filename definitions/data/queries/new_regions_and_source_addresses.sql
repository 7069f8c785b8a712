-- Today's calls (UTC) from a region, or a source address, that no call came from in the 30 days before (since 30 days ago, today left out), one row per novelty, value and principal, ordered so: a new region or address often means leaked credentials. Calls by AWS services (their own, and those they make through service-linked roles) are left out of today and of the 30 days alike: they touch every enabled region every day. Past days are read from the compact table, yesterday once the daily compaction has run (00:05 UTC).
WITH calls AS (
    -- The 30 days before today from the compact table: every category, and only the columns the
    -- baseline needs.
    SELECT 'baseline' AS period, awsregion, sourceipaddress, useridentity.type AS identity_type,
           CAST(NULL AS varchar) AS eventtime, CAST(NULL AS varchar) AS principal
    FROM cloudtrail_compact
    WHERE day >= date_format(current_date - INTERVAL '30' DAY, '%Y-%m-%d')
      AND day < date_format(current_date, '%Y-%m-%d')
    UNION ALL
    -- Today from the logs.
    SELECT 'today' AS period, awsregion, sourceipaddress, useridentity.type AS identity_type,
           eventtime, coalesce(useridentity.arn, useridentity.principalid) AS principal
    FROM cloudtrail
    WHERE timestamp = date_format(current_date, '%Y/%m/%d')
),
by_people AS (
    SELECT *
    FROM calls
    WHERE identity_type <> 'AWSService'
      AND sourceipaddress NOT LIKE '%.amazonaws.com'
      AND sourceipaddress <> 'AWS Internal'
),
recent AS (
    SELECT awsregion, sourceipaddress, eventtime, principal
    FROM by_people
    WHERE period = 'today'
),
baseline AS (
    SELECT DISTINCT awsregion, sourceipaddress
    FROM by_people
    WHERE period = 'baseline'
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
