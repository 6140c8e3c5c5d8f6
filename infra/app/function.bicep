// The Flex Consumption plan and the function app (Python 3.11, Linux), running as the user-assigned identity.
// On Flex the runtime, the deployment package and scaling live in functionAppConfig: FUNCTIONS_WORKER_RUNTIME,
// FUNCTIONS_EXTENSION_VERSION, WEBSITE_RUN_FROM_PACKAGE and WEBSITE_CONTENT* must not be set.
param name string
param planName string
param location string
param tags object
@description('Resource id of the user-assigned identity.')
param identityId string
@description('Client id of the user-assigned identity.')
param identityClientId string
param storageAccountName string
param deploymentContainerName string
param appInsightsConnectionString string
param maximumInstanceCount int
param instanceMemoryMB int

// Settings the code reads (shared/settings.py); tests/infra checks this list against SETTING_NAMES.
@description('Application (client) id of the Graph app registration (graph-app.bicep).')
param graphClientId string
param graphCloud string
param graphApiVersion string
param meetingsTableName string
param requestsQueueName string
param resultsQueueName string
param allowedTenants string
param allowedOrganizers string
param accessPolicyGraceMinutes string
param meetingChanges string
param monthlyMeetingLimit string
param calendarMode string
param meetingArtifacts string
param attendanceDelayMinutes string
param attendanceWindowHours string
param callbacksQueueName string
param callbacksFailedQueueName string
param callbackAllowedHosts string
param callbackRetrySchedule string
param intakeSigning string
@description('URI of the Key Vault holding the signing secrets (keyvault.bicep), ending in a slash.')
param keyVaultUri string

// The signing secrets are Key Vault references (resolved by the platform with the identity; the trailing slash names
// the secret's latest version). A reference is set only when its feature is on: an unresolved reference reaches the
// app as its own text, which the app reports as a malformed secret (/api/health), so a feature that is off must not
// depend on a secret that was never set.
var callbackSigningSecrets = empty(callbackAllowedHosts) ? '' : '@Microsoft.KeyVault(SecretUri=${keyVaultUri}secrets/callback-signing-secrets/)'
var intakeSigningSecrets = (intakeSigning == 'enabled') ? '@Microsoft.KeyVault(SecretUri=${keyVaultUri}secrets/intake-signing-secrets/)' : ''

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  // checkov:skip=CKV_AZURE_225:Zone redundancy on Flex Consumption is offered only in some regions and requires zone-redundant storage; this template targets any Flex region with LRS storage.
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    name: 'FC1'
    tier: 'FlexConsumption'
  }
  properties: {
    reserved: true
  }
}

resource functionApp 'Microsoft.Web/sites@2024-04-01' = {
  // checkov:skip=CKV_AZURE_17:Callers authenticate with function keys over HTTPS; requiring client certificates would lock out every caller without adding an identity check the app uses.
  // checkov:skip=CKV_AZURE_212:Flex Consumption has no fixed instance count: the platform scales from zero per function; failover capacity is not configured on the app.
  // checkov:skip=CKV_AZURE_213:The platform health check feature is not supported on Flex Consumption; /api/health is served for operators and probes instead.
  // checkov:skip=CKV_AZURE_222:The HTTP API must be reachable by its callers and no virtual network is part of this template; every meeting call needs a function key over HTTPS.
  // checkov:skip=CKV_AZURE_78:Flex Consumption has no FTP or FTPS endpoint; siteConfig.ftpsState is on the Flex Consumption deprecation list and the platform rejects it (error 51021), so it cannot be set to Disabled.
  // checkov:skip=CKV_AZURE_67:siteConfig.http20Enabled is neither set by the official Flex Consumption samples nor documented for Flex Consumption; the template sets only site properties the Flex samples set.
  // checkov:skip=CKV_AZURE_18:Same check as CKV_AZURE_67 under its web-app number: http20Enabled is not set on a Flex Consumption app (not in the official Flex samples or docs).
  name: name
  location: location
  tags: union(tags, {
    'azd-service-name': 'api'
  })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    publicNetworkAccess: 'Enabled'
    clientCertEnabled: false
    keyVaultReferenceIdentity: identityId
    // Flex Consumption rejects or ignores many siteConfig properties and app settings ("Flex Consumption plan
    // deprecations", functions-app-settings): ftpsState is refused outright (error 51021). Set only what the official
    // Flex samples set, plus the TLS floor; tests/infra/test_flex_deprecations.py keeps the deprecated list out.
    siteConfig: {
      minTlsVersion: '1.2'
      appSettings: [
        // Host storage and every AzureWebJobsStorage binding, identity-based (no connection string, no key).
        {
          name: 'AzureWebJobsStorage__blobServiceUri'
          value: storage.properties.primaryEndpoints.blob
        }
        {
          name: 'AzureWebJobsStorage__queueServiceUri'
          value: storage.properties.primaryEndpoints.queue
        }
        {
          name: 'AzureWebJobsStorage__tableServiceUri'
          value: storage.properties.primaryEndpoints.table
        }
        {
          name: 'AzureWebJobsStorage__credential'
          value: 'managedidentity'
        }
        {
          name: 'AzureWebJobsStorage__clientId'
          value: identityClientId
        }
        // Telemetry with Entra ID auth (the component has local auth disabled).
        {
          name: 'APPLICATIONINSIGHTS_CONNECTION_STRING'
          value: appInsightsConnectionString
        }
        {
          name: 'APPLICATIONINSIGHTS_AUTHENTICATION_STRING'
          value: 'ClientId=${identityClientId};Authorization=AAD'
        }
        // OpenTelemetry (host.json telemetryMode): the Python worker configures the Azure Monitor distro before it
        // loads the app and runs each invocation in the host's trace. Graph and token calls are traced by the app
        // itself, without their URLs (organizers, join links): the distro's generic HTTP instrumentations stay off.
        {
          name: 'PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY'
          value: 'true'
        }
        {
          name: 'OTEL_PYTHON_DISABLED_INSTRUMENTATIONS'
          value: 'requests,urllib,urllib3'
        }
        // Graph: the identity is the federated credential of the app registration; no secret, no certificate.
        {
          name: 'GRAPH_CREDENTIAL'
          value: 'managed_identity_fic'
        }
        {
          name: 'GRAPH_TENANT_ID'
          value: tenant().tenantId
        }
        {
          name: 'GRAPH_CLIENT_ID'
          value: graphClientId
        }
        {
          name: 'MANAGED_IDENTITY_CLIENT_ID'
          value: identityClientId
        }
        {
          name: 'GRAPH_CLOUD'
          value: graphCloud
        }
        {
          name: 'GRAPH_API_VERSION'
          value: graphApiVersion
        }
        // Storage names the bindings resolve as %MEETING_REQUESTS_QUEUE% etc. and the code's clients use.
        {
          name: 'MEETINGS_TABLE'
          value: meetingsTableName
        }
        {
          name: 'MEETING_REQUESTS_QUEUE'
          value: requestsQueueName
        }
        {
          name: 'MEETING_RESULTS_QUEUE'
          value: resultsQueueName
        }
        // Who and where the app may act.
        {
          name: 'ALLOWED_TENANTS'
          value: allowedTenants
        }
        {
          name: 'ALLOWED_ORGANIZERS'
          value: allowedOrganizers
        }
        {
          name: 'ACCESS_POLICY_GRACE_MINUTES'
          value: accessPolicyGraceMinutes
        }
        {
          name: 'MEETING_CHANGES'
          value: meetingChanges
        }
        {
          name: 'MONTHLY_MEETING_LIMIT'
          value: monthlyMeetingLimit
        }
        {
          name: 'CALENDAR_MODE'
          value: calendarMode
        }
        // Meeting attendance and transcripts (issue 23): the permissions granted follow MEETING_ARTIFACTS.
        {
          name: 'MEETING_ARTIFACTS'
          value: meetingArtifacts
        }
        {
          name: 'ATTENDANCE_DELAY_MINUTES'
          value: attendanceDelayMinutes
        }
        {
          name: 'ATTENDANCE_WINDOW_HOURS'
          value: attendanceWindowHours
        }
        // Result callbacks and signed intake (Standard Webhooks); the secrets as Key Vault references.
        {
          name: 'MEETING_CALLBACKS_QUEUE'
          value: callbacksQueueName
        }
        {
          name: 'MEETING_CALLBACKS_FAILED_QUEUE'
          value: callbacksFailedQueueName
        }
        {
          name: 'CALLBACK_ALLOWED_HOSTS'
          value: callbackAllowedHosts
        }
        {
          name: 'CALLBACK_RETRY_SCHEDULE'
          value: callbackRetrySchedule
        }
        {
          name: 'CALLBACK_SIGNING_SECRETS'
          value: callbackSigningSecrets
        }
        {
          name: 'INTAKE_SIGNING_SECRETS'
          value: intakeSigningSecrets
        }
      ]
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storage.properties.primaryEndpoints.blob}${deploymentContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityId
          }
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: instanceMemoryMB
      }
      runtime: {
        name: 'python'
        version: '3.11'
      }
    }
  }
}

// Deployments go through Entra ID (azd uses a token); basic-auth publishing credentials are of no use and stay off.
resource ftpBasicAuth 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: functionApp
  name: 'ftp'
  properties: {
    allow: false
  }
}

resource scmBasicAuth 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: functionApp
  name: 'scm'
  properties: {
    allow: false
  }
}

output name string = functionApp.name
output uri string = 'https://${functionApp.properties.defaultHostName}'
