// Teams Meeting Broker: everything `azd up` provisions, in one subscription-scoped deployment.
//
// Azure resources live in small modules of raw resources under app/ (checked offline by checkov).
// The Entra ID side (app registration, its federated credential trusting the user-assigned identity, its service
// principal) lives in graph-app.bicep, which declares `extension microsoftGraphV1`. The OnlineMeetings.ReadWrite.All
// grant is made by the postprovision hook (infra/hooks/grant-app-roles.*) from outputs below, once the new
// service principal can be read (see graph-app.bicep for why not in this deployment).
// No secret is created anywhere: storage is reached with the identity, Graph with the identity as a federated credential.
// The Standard Webhooks signing secrets (result callbacks, signed intake) are set by the operator in the Key Vault
// (app/keyvault.bicep) and reach the app as Key Vault references.
targetScope = 'subscription'

@minLength(1)
@maxLength(64)
@description('Name of the azd environment; used to name the resource group and derive unique resource names.')
param environmentName string

// The regions the official Flex Consumption azd quickstart (Azure-Samples/functions-quickstart-python-http-azd) allows,
// less its early-access canary region eastus2euap. Flex Consumption keeps reaching new regions: list the current ones
// with `az functionapp list-flexconsumption-locations -o table` and add a region here when you need it.
// azd reads both decorators: it offers only these regions when it asks for AZURE_LOCATION.
@minLength(1)
@allowed([
  'australiaeast'
  'australiasoutheast'
  'brazilsouth'
  'canadacentral'
  'centralindia'
  'centralus'
  'eastasia'
  'eastus'
  'eastus2'
  'francecentral'
  'germanywestcentral'
  'italynorth'
  'japaneast'
  'koreacentral'
  'northcentralus'
  'northeurope'
  'norwayeast'
  'southafricanorth'
  'southcentralus'
  'southeastasia'
  'southindia'
  'spaincentral'
  'swedencentral'
  'uaenorth'
  'uksouth'
  'ukwest'
  'westcentralus'
  'westeurope'
  'westus'
  'westus2'
  'westus3'
])
@metadata({
  azd: {
    type: 'location'
  }
})
@description('Azure region for every resource; it must offer the Flex Consumption plan.')
param location string

@minLength(1)
@description('Who the app may create meetings for: comma-separated object ids, UPNs, @domain suffixes, or * (required: the app refuses to act as anyone without it).')
param allowedOrganizers string

@description('Object id of the principal running azd (azd sets AZURE_PRINCIPAL_ID). It gets read access to the deployment-package container only, for the predeploy readiness probe; empty: no grant.')
param principalId string = ''

@description('Comma-separated tenant ids or domains the app may act in besides its own (empty: only its own tenant).')
param allowedTenants string = ''

@allowed([
  'global'
  'usgov'
  'dod'
])
@description('Microsoft Graph national cloud; picks the authority, the Graph root and the token-exchange audience of the federated credential.')
param graphCloud string = 'global'

@allowed([
  'v1.0'
  'beta'
])
@description('Microsoft Graph API version used for onlineMeetings calls.')
param graphApiVersion string = 'v1.0'

@description('Minutes a 403 "no application access policy" is retried on the queue path after a request first arrives (a fresh grant takes up to 30 minutes to apply).')
param accessPolicyGraceMinutes string = '30'

@description('What a repeated POST with other details does to the recorded meeting: apply them with a PATCH, or keep the meeting as createOrGet returns it.')
@allowed([
  'apply'
  'keep'
])
param meetingChanges string = 'apply'

@description('Meetings the broker may create per organizer and UTC month (Graph allows about 2,000); 0 turns the check off.')
param monthlyMeetingLimit string = '2000'

@description('Calendar-backed meetings (Outlook events in the organizer\'s calendar that send invitations): enabled or disabled.')
@allowed([
  'enabled'
  'disabled'
])
param calendarMode string = 'disabled'

@description('With calendarMode enabled, how the app may write calendars: exchangeRbac (nothing granted in Entra ID; scope it to a group of mailboxes with infra/scripts/grant-calendar-scope.ps1) or tenantWide (Calendars.ReadWrite granted in Entra ID: every mailbox).')
@allowed([
  'exchangeRbac'
  'tenantWide'
])
param calendarAccess string = 'exchangeRbac'

@description('Meeting attendance and transcripts (issue 23): off, attendance (grants OnlineMeetingArtifact.Read.All) or attendanceAndTranscripts (OnlineMeetingTranscript.Read.All as well; transcripts need calendar-backed meetings).')
@allowed([
  'off'
  'attendance'
  'attendanceAndTranscripts'
])
param meetingArtifacts string = 'off'

@description('Minutes after a meeting\'s end before its attendance is first collected (collectAttendance).')
param attendanceDelayMinutes string = '10'

@description('Hours after a meeting\'s end its attendance is looked for before the result says it is unavailable.')
param attendanceWindowHours string = '48'

@description('Let other tenants consent to the app registration (multi-tenant). Default: single tenant.')
param multiTenant bool = false

@description('Name of the meetings lookup table.')
param meetingsTableName string = 'meetings'

@description('Name of the queue of meeting requests; its poison queue is "<name>-poison".')
param requestsQueueName string = 'meeting-requests'

@description('Name of the queue the results are written to.')
param resultsQueueName string = 'meeting-results'

@description('E-mail address the alerts go to (azd: ALERT_EMAIL); empty: the alerts fire in the Azure portal only.')
param alertEmail string = ''

@allowed([
  'PT15M'
  'PT30M'
  'PT1H'
  'PT2H'
  'PT6H'
])
@description('How long no meeting request may succeed while requests arrive before the no-success alert fires.')
param alertNoSuccessWindow string = 'PT30M'

@description('Name of the queue of result callback deliveries (one message per attempt); its poison queue is "<name>-poison".')
param callbacksQueueName string = 'meeting-callbacks'

@description('Name of the queue keeping the callback deliveries whose every attempt failed.')
param callbacksFailedQueueName string = 'meeting-callbacks-failed'

@description('Hosts result callbacks may be sent to: comma-separated names (hooks.example.com), *. wildcards (*.example.com) or IP addresses. Empty (the default) refuses every callbackUrl. Set the secret callback-signing-secrets in the Key Vault first (README).')
param callbackAllowedHosts string = ''

@description('Seconds before each retry of a result callback, comma-separated; empty: 5,300,1800,7200,18000,36000,36000.')
param callbackRetrySchedule string = ''

@description('Signed intake: enabled requires Standard Webhooks signatures on every write with the secret intake-signing-secrets in the Key Vault (set it first: README).')
@allowed([
  'enabled'
  'disabled'
])
param intakeSigning string = 'disabled'

@minValue(1)
@maxValue(1000)
@description('Upper bound of Flex Consumption instances.')
param maximumInstanceCount int = 40

@allowed([
  512
  2048
  4096
])
@description('Memory of each Flex Consumption instance, in MB.')
param instanceMemoryMB int = 2048

var abbrs = {
  identity: 'id-'
  storage: 'st'
  logAnalytics: 'log-'
  keyVault: 'kv-'
  appInsights: 'appi-'
  plan: 'plan-'
  functionApp: 'func-'
}
var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var tags = {
  'azd-env-name': environmentName
}
var functionAppName = '${abbrs.functionApp}${resourceToken}'
var poisonQueueName = '${requestsQueueName}-poison'
var callbacksPoisonQueueName = '${callbacksQueueName}-poison'
var deploymentContainerName = 'app-package-${resourceToken}'

resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: 'rg-${environmentName}'
  location: location
  tags: tags
}

module identity 'app/identity.bicep' = {
  name: 'identity'
  scope: rg
  params: {
    name: '${abbrs.identity}${resourceToken}'
    location: location
    tags: tags
  }
}

module storage 'app/storage.bicep' = {
  name: 'storage'
  scope: rg
  params: {
    name: '${abbrs.storage}${resourceToken}'
    location: location
    tags: tags
    deploymentContainerName: deploymentContainerName
    tableNames: [
      meetingsTableName
    ]
    queueNames: [
      requestsQueueName
      poisonQueueName
      resultsQueueName
      callbacksQueueName
      callbacksPoisonQueueName
      callbacksFailedQueueName
    ]
  }
}

module monitoring 'app/monitoring.bicep' = {
  name: 'monitoring'
  scope: rg
  params: {
    logAnalyticsName: '${abbrs.logAnalytics}${resourceToken}'
    appInsightsName: '${abbrs.appInsights}${resourceToken}'
    location: location
    tags: tags
  }
}

module keyVault 'app/keyvault.bicep' = {
  name: 'keyvault'
  scope: rg
  params: {
    name: '${abbrs.keyVault}${resourceToken}'
    location: location
    tags: tags
    deployerPrincipalId: principalId
  }
}

module rbac 'app/rbac.bicep' = {
  name: 'rbac'
  scope: rg
  params: {
    storageAccountName: storage.outputs.name
    appInsightsName: monitoring.outputs.appInsightsName
    keyVaultName: keyVault.outputs.name
    principalId: identity.outputs.principalId
  }
}

// Lets the predeploy hook see when this deployment's storage role assignments have reached the data plane (the deployer
// needs no write access: the platform, not azd, writes the package, with the identity's Blob Data Owner grant).
module deployerAccess 'app/deployer-access.bicep' = {
  name: 'deployer-access'
  scope: rg
  params: {
    storageAccountName: storage.outputs.name
    deploymentContainerName: deploymentContainerName
    principalId: principalId
  }
}

// The app registration the function acts as towards Microsoft Graph. The deploying user needs rights to create
// applications and to grant application permissions (see README.md, Deploy to Azure).
module graphApp 'graph-app.bicep' = {
  name: 'graph-app'
  scope: rg
  params: {
    appUniqueName: 'teams-meeting-broker-${resourceToken}'
    displayName: 'Teams Meeting Broker (${environmentName})'
    multiTenant: multiTenant
    graphCloud: graphCloud
    managedIdentityPrincipalId: identity.outputs.principalId
    grantCalendarsTenantWide: (calendarMode == 'enabled') && (calendarAccess == 'tenantWide')
    meetingArtifacts: meetingArtifacts
  }
}

module api 'app/function.bicep' = {
  name: 'api'
  scope: rg
  params: {
    name: functionAppName
    planName: '${abbrs.plan}${resourceToken}'
    location: location
    tags: tags
    identityId: identity.outputs.id
    identityClientId: identity.outputs.clientId
    storageAccountName: storage.outputs.name
    deploymentContainerName: deploymentContainerName
    appInsightsConnectionString: monitoring.outputs.appInsightsConnectionString
    maximumInstanceCount: maximumInstanceCount
    instanceMemoryMB: instanceMemoryMB
    graphClientId: graphApp.outputs.appId
    graphCloud: graphCloud
    graphApiVersion: graphApiVersion
    meetingsTableName: meetingsTableName
    requestsQueueName: requestsQueueName
    resultsQueueName: resultsQueueName
    allowedTenants: allowedTenants
    allowedOrganizers: allowedOrganizers
    accessPolicyGraceMinutes: accessPolicyGraceMinutes
    meetingChanges: meetingChanges
    monthlyMeetingLimit: monthlyMeetingLimit
    calendarMode: calendarMode
    meetingArtifacts: meetingArtifacts
    attendanceDelayMinutes: attendanceDelayMinutes
    attendanceWindowHours: attendanceWindowHours
    callbacksQueueName: callbacksQueueName
    callbacksFailedQueueName: callbacksFailedQueueName
    callbackAllowedHosts: callbackAllowedHosts
    callbackRetrySchedule: callbackRetrySchedule
    intakeSigning: intakeSigning
    keyVaultUri: keyVault.outputs.uri
  }
  // The host must be able to reach its storage and publish telemetry the moment it starts.
  dependsOn: [
    rbac
  ]
}

// Alert rules on the app's telemetry and the platform's HTTP 5xx count, and the action group that mails them.
module alerts 'app/alerts.bicep' = {
  name: 'alerts'
  scope: rg
  params: {
    location: location
    tags: tags
    appInsightsName: monitoring.outputs.appInsightsName
    functionAppName: api.outputs.name
    alertEmail: alertEmail
    noSuccessWindow: alertNoSuccessWindow
  }
}

// Outputs in UPPER_SNAKE: azd stores them in the environment (.azure/<env>/.env).
output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_FUNCTION_APP_NAME string = api.outputs.name
output SERVICE_API_NAME string = api.outputs.name
output SERVICE_API_URI string = api.outputs.uri
output AZURE_STORAGE_ACCOUNT_NAME string = storage.outputs.name
// Read by the predeploy hook (infra/hooks/wait-for-storage-access.*): where the package goes.
output AZURE_STORAGE_BLOB_ENDPOINT string = storage.outputs.blobEndpoint
output AZURE_DEPLOYMENT_CONTAINER_NAME string = deploymentContainerName
// The principal the deployer read grant was made for ('none': no grant). azd uses AZURE_PRINCIPAL_ID to fill the
// principalId parameter but does not keep it in the environment its hooks get; the predeploy hook reads this instead.
output AZURE_DEPLOYER_PRINCIPAL_ID string = empty(principalId) ? 'none' : principalId
output GRAPH_CLIENT_ID string = graphApp.outputs.appId
output GRAPH_CLOUD string = graphCloud
output GRAPH_SERVICE_PRINCIPAL_ID string = graphApp.outputs.servicePrincipalId
// Read by the postprovision hook (infra/hooks/grant-app-roles.*): the Microsoft Graph app roles to grant to
// GRAPH_SERVICE_PRINCIPAL_ID (name=id pairs, comma-separated), the object id of Microsoft Graph's service principal that
// defines them, and the Graph endpoint of the cloud the app registration was written to.
output GRAPH_APP_ROLES string = graphApp.outputs.appRoles
output MICROSOFT_GRAPH_SERVICE_PRINCIPAL_ID string = graphApp.outputs.microsoftGraphServicePrincipalId
output MICROSOFT_GRAPH_ENDPOINT string = graphApp.outputs.microsoftGraphEndpoint
output MANAGED_IDENTITY_CLIENT_ID string = identity.outputs.clientId
output MANAGED_IDENTITY_PRINCIPAL_ID string = identity.outputs.principalId
output APPLICATIONINSIGHTS_NAME string = monitoring.outputs.appInsightsName
// Where the operator sets the signing secrets (README, "Result callbacks and signed intake").
output AZURE_KEY_VAULT_NAME string = keyVault.outputs.name
