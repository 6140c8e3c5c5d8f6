// Log Analytics and workspace-based Application Insights, both with local (key) auth disabled: the app publishes
// telemetry with its identity (Monitoring Metrics Publisher, rbac.bicep) and APPLICATIONINSIGHTS_AUTHENTICATION_STRING.
param logAnalyticsName string
param appInsightsName string
param location string
param tags object

resource logAnalytics 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: logAnalyticsName
  location: location
  tags: tags
  properties: {
    sku: {
      name: 'PerGB2018'
    }
    retentionInDays: 30
    features: {
      disableLocalAuth: true
    }
  }
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' = {
  name: appInsightsName
  location: location
  tags: tags
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: logAnalytics.id
    DisableLocalAuth: true
  }
}

output appInsightsName string = appInsights.name
// The connection string names the ingestion endpoint; with local auth disabled its key alone cannot write telemetry.
output appInsightsConnectionString string = appInsights.properties.ConnectionString
