// Alerts on what the broker tells through OpenTelemetry (shared/telemetry/metrics.py): log search alert rules on the
// Application Insights metrics the Azure Monitor distro exports (table customMetrics; metrics are never sampled, traces
// may be), and a metric alert on the platform's own HTTP 5xx count. One action group; README "Alerts" says what each
// rule means and what to do. Types and properties: Microsoft.Insights scheduledQueryRules@2023-12-01,
// metricAlerts@2018-03-01, actionGroups@2023-01-01 (https://learn.microsoft.com/azure/templates/microsoft.insights/).
param location string
param tags object
@description('Application Insights component the app sends its telemetry to.')
param appInsightsName string
@description('The function app (its platform metric Http5xx).')
param functionAppName string
@description('E-mail address the alerts go to; empty: the alerts fire in the portal only.')
param alertEmail string
@description('How long no meeting request may succeed while requests arrive before the alert fires (ISO 8601).')
param noSuccessWindow string

resource appInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: appInsightsName
}

resource functionApp 'Microsoft.Web/sites@2024-04-01' existing = {
  name: functionAppName
}

resource actionGroup 'Microsoft.Insights/actionGroups@2023-01-01' = {
  name: 'ag-${functionAppName}'
  location: 'global'
  tags: tags
  properties: {
    groupShortName: 'mtg-broker'
    enabled: true
    emailReceivers: empty(alertEmail) ? [] : [
      {
        name: 'operator'
        emailAddress: alertEmail
        useCommonAlertSchema: true
      }
    ]
  }
}

// The queries read the counters the app exports: one row per export (every minute per instance), the count in valueSum.
var exhaustedQuery = 'customMetrics | where name in ("broker.retries_exhausted", "broker.queue.poison_messages") | project timestamp, valueSum'
var forbiddenQuery = 'customMetrics | where name == "broker.graph.forbidden" | where tostring(customDimensions["cause"]) in ("access_policy", "permission") | project timestamp, valueSum'
var throttledQuery = 'customMetrics | where name == "broker.graph.throttled" | project timestamp, valueSum'
var noSuccessQuery = 'customMetrics | where name == "broker.requests" | where tostring(customDimensions["route"]) in ("create_meeting", "update_meeting", "cancel_meeting", "process_meeting_request") | summarize requests = sum(valueSum), succeeded = sumif(valueSum, tostring(customDimensions["status"]) !in ("failed", "retry")) | where requests > 0 and succeeded == 0'

var rules = [
  {
    name: 'retries-exhausted'
    displayName: 'Meeting requests ran out of retries'
    description: 'A queued request ended retries_exhausted, or a message reached the poison queue.'
    severity: 1
    query: exhaustedQuery
    timeAggregation: 'Total'
    metricMeasureColumn: 'valueSum'
    windowSize: 'PT5M'
    periods: 1
  }
  {
    name: 'graph-forbidden'
    displayName: 'Graph refuses the app (access policy or permission)'
    description: 'Graph answered 403: an organizer without a Teams application access policy, or a missing Graph permission.'
    severity: 1
    query: forbiddenQuery
    timeAggregation: 'Total'
    metricMeasureColumn: 'valueSum'
    windowSize: 'PT5M'
    periods: 1
  }
  {
    name: 'graph-throttled'
    displayName: 'Graph throttles the app, sustained'
    description: 'Graph answered 429 in each of the last three 5-minute windows.'
    severity: 2
    query: throttledQuery
    timeAggregation: 'Total'
    metricMeasureColumn: 'valueSum'
    windowSize: 'PT5M'
    periods: 3
  }
  {
    name: 'no-success'
    displayName: 'No meeting request succeeds'
    description: 'Meeting requests arrived in the window but none succeeded.'
    severity: 1
    query: noSuccessQuery
    timeAggregation: 'Count'
    metricMeasureColumn: ''
    windowSize: noSuccessWindow
    periods: 1
  }
]

resource logAlerts 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = [for rule in rules: {
  name: 'broker-${rule.name}-${functionAppName}'
  location: location
  tags: tags
  kind: 'LogAlert'
  properties: {
    displayName: rule.displayName
    description: rule.description
    severity: rule.severity
    enabled: true
    scopes: [
      appInsights.id
    ]
    evaluationFrequency: 'PT5M'
    windowSize: rule.windowSize
    criteria: {
      allOf: [
        {
          query: rule.query
          timeAggregation: rule.timeAggregation
          metricMeasureColumn: empty(rule.metricMeasureColumn) ? null : rule.metricMeasureColumn
          operator: 'GreaterThan'
          threshold: 0
          failingPeriods: {
            numberOfEvaluationPeriods: rule.periods
            minFailingPeriodsToAlert: rule.periods
          }
        }
      ]
    }
    autoMitigate: true
    actions: {
      actionGroups: [
        actionGroup.id
      ]
    }
  }
}]

// The platform counts every HTTP answer >= 500 of the app, a crashed or timed-out invocation's too: no query needed.
resource http5xx 'Microsoft.Insights/metricAlerts@2018-03-01' = {
  name: 'broker-http-5xx-${functionAppName}'
  location: 'global'
  tags: tags
  properties: {
    description: 'The app answered HTTP 5xx (Microsoft.Web/sites metric Http5xx).'
    severity: 1
    enabled: true
    scopes: [
      functionApp.id
    ]
    evaluationFrequency: 'PT1M'
    windowSize: 'PT5M'
    criteria: {
      'odata.type': 'Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria'
      allOf: [
        {
          name: 'Http5xx'
          criterionType: 'StaticThresholdCriterion'
          metricNamespace: 'Microsoft.Web/sites'
          metricName: 'Http5xx'
          operator: 'GreaterThan'
          threshold: 0
          timeAggregation: 'Total'
        }
      ]
    }
    autoMitigate: true
    actions: [
      {
        actionGroupId: actionGroup.id
      }
    ]
  }
}

output actionGroupId string = actionGroup.id
