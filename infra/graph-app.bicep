// The Entra ID side of the broker: the app registration the function acts as towards Microsoft Graph, its service
// principal, and the federated identity credential that makes the user-assigned identity its only credential (no secret,
// no certificate). The app declares the OnlineMeetings.ReadWrite.All application permission; the grant itself (the
// app-role assignment, i.e. the admin consent) is made by the azd postprovision hook infra/hooks/grant-app-roles.*, from
// the outputs below, once the new service principal can be read: Entra ID is eventually consistent, and an
// appRoleAssignedTo in the same deployment as a new service principal fails intermittently when it reaches a replica
// that does not know the principal yet ("Not a valid reference update", microsoftgraph/msgraph-bicep-types#193); a
// deployment can neither wait for that nor retry it. The Teams application access policy is still a separate PowerShell
// step: infra/scripts/grant-access-policy.ps1. Calendars.ReadWrite (calendar-backed meetings) is declared and granted
// only when asked for tenant-wide: the scoped way is Exchange Online RBAC for Applications
// (infra/scripts/grant-calendar-scope.ps1), which needs the Entra ID grant to be absent, because Exchange grants the
// union of both. Meeting attendance and transcripts (MEETING_ARTIFACTS) add OnlineMeetingArtifact.Read.All unless off,
// and OnlineMeetingTranscript.Read.All for attendanceAndTranscripts, declared and granted the same way.
// Kept in its own file: checkov cannot parse `extension`. Microsoft Graph Bicep deploys in the global cloud only.
// Pattern: microsoftgraph/msgraph-bicep-types quickstart-templates/msi-as-a-fic-secretless.
extension microsoftGraphV1

@description('Unique name (alternate key) of the app registration; re-deploys update the same app.')
param appUniqueName string

@description('Display name shown in Entra ID and on consent prompts.')
param displayName string

@description('AzureADMultipleOrgs when true (other tenants may consent), else AzureADMyOrg (single tenant).')
param multiTenant bool = false

@allowed([
  'global'
  'usgov'
  'dod'
])
@description('Cloud the app runs in; picks the token-exchange audience, which must match the one the code requests.')
param graphCloud string = 'global'

@description('Principal (object) id of the user-assigned identity the function app runs as.')
param managedIdentityPrincipalId string

@description('Declare (and have the postprovision hook grant) Calendars.ReadWrite (application) in Entra ID: the app may then write every mailbox\'s calendar. Leave false to scope it with Exchange Online RBAC for Applications instead.')
param grantCalendarsTenantWide bool = false

@description('Meeting attendance and transcripts (MEETING_ARTIFACTS): declare and have the hook grant OnlineMeetingArtifact.Read.All unless off, and OnlineMeetingTranscript.Read.All as well for attendanceAndTranscripts.')
@allowed([
  'off'
  'attendance'
  'attendanceAndTranscripts'
])
param meetingArtifacts string = 'off'

// Audience of the identity token the app exchanges (shared/settings.py CLOUDS[...].token_exchange_audience).
// https://learn.microsoft.com/entra/workload-id/workload-identity-federation-config-app-trust-managed-identity
var tokenExchangeAudiences = {
  global: 'api://AzureADTokenExchange'
  usgov: 'api://AzureADTokenExchangeUSGov'
  dod: 'api://AzureADTokenExchangeUSGov'
}
// Managed identity tokens are issued by the identity's own tenant, v2.0 endpoint.
var issuer = '${environment().authentication.loginEndpoint}${tenant().tenantId}/v2.0'
var microsoftGraphAppId = '00000003-0000-0000-c000-000000000000'
// OnlineMeetings.ReadWrite.All (application): https://learn.microsoft.com/graph/permissions-reference
var onlineMeetingsReadWriteAll = 'b8bb2037-6e08-44ac-a4ea-4674e010e2a4'
// Calendars.ReadWrite (application): https://learn.microsoft.com/graph/permissions-reference#calendarsreadwrite
var calendarsReadWrite = 'ef54d2bf-783f-4e0f-bca1-3210c0444d99'
// OnlineMeetingArtifact.Read.All (application): attendance reports and their records.
// https://learn.microsoft.com/graph/permissions-reference#onlinemeetingartifactreadall
var onlineMeetingArtifactReadAll = 'df01ed3b-eb61-4eca-9965-6b3d789751b2'
// OnlineMeetingTranscript.Read.All (application): transcripts of calendar-backed meetings.
// https://learn.microsoft.com/graph/permissions-reference#onlinemeetingtranscriptreadall
var onlineMeetingTranscriptReadAll = 'a4a80d8d-d283-4bd8-8504-555ec3870630'
var onlineMeetingsAccess = {
  id: onlineMeetingsReadWriteAll
  type: 'Role'
}
var calendarsAccess = {
  id: calendarsReadWrite
  type: 'Role'
}
// What each MEETING_ARTIFACTS mode adds to the permissions declared (and, below, granted).
var artifactsAccess = {
  off: []
  attendance: [
    {
      id: onlineMeetingArtifactReadAll
      type: 'Role'
    }
  ]
  attendanceAndTranscripts: [
    {
      id: onlineMeetingArtifactReadAll
      type: 'Role'
    }
    {
      id: onlineMeetingTranscriptReadAll
      type: 'Role'
    }
  ]
}

resource app 'Microsoft.Graph/applications@v1.0' = {
  uniqueName: appUniqueName
  displayName: displayName
  signInAudience: multiTenant ? 'AzureADMultipleOrgs' : 'AzureADMyOrg'
  // Declared so that an admin of another tenant is asked to consent to exactly these permissions. Calendars.ReadWrite
  // is declared only with its tenant-wide grant: declared, a portal "Grant admin consent" click would widen the
  // Exchange-scoped access to every mailbox.
  requiredResourceAccess: [
    {
      resourceAppId: microsoftGraphAppId
      resourceAccess: concat(grantCalendarsTenantWide ? [onlineMeetingsAccess, calendarsAccess] : [onlineMeetingsAccess], artifactsAccess[meetingArtifacts])
    }
  ]

  resource functionIdentityCredential 'federatedIdentityCredentials@v1.0' = {
    name: '${app.uniqueName}/function-identity'
    description: 'The function app\'s user-assigned managed identity is this app\'s credential.'
    issuer: issuer
    subject: managedIdentityPrincipalId
    audiences: [
      tokenExchangeAudiences[graphCloud]
    ]
  }
}

resource servicePrincipal 'Microsoft.Graph/servicePrincipals@v1.0' = {
  appId: app.appId
}

// Microsoft Graph's own service principal in this tenant: the resource whose app roles the hook assigns.
resource microsoftGraph 'Microsoft.Graph/servicePrincipals@v1.0' existing = {
  appId: microsoftGraphAppId
}

// The app roles (application permissions) of Microsoft Graph to grant, as name=id pairs: exactly those declared in
// requiredResourceAccess above. OnlineMeetings.ReadWrite.All always; Calendars.ReadWrite only tenant-wide
// (CALENDAR_ACCESS=tenantWide), for calendar-backed meetings in every mailbox. The hook never removes one:
// grant-calendar-scope.ps1 removes a Calendars.ReadWrite grant left from tenantWide.
var onlineMeetingsRole = 'OnlineMeetings.ReadWrite.All=${onlineMeetingsReadWriteAll}'
var calendarsRole = 'Calendars.ReadWrite=${calendarsReadWrite}'
var artifactRole = 'OnlineMeetingArtifact.Read.All=${onlineMeetingArtifactReadAll}'
var transcriptRole = 'OnlineMeetingTranscript.Read.All=${onlineMeetingTranscriptReadAll}'
// Appended to the roles above, per MEETING_ARTIFACTS.
var artifactRoles = {
  off: ''
  attendance: ',${artifactRole}'
  attendanceAndTranscripts: ',${artifactRole},${transcriptRole}'
}
var modeRoles = artifactRoles[meetingArtifacts]

// Microsoft Graph of the cloud this deployment runs in, where the extension has just written the app: the hook grants
// there. Today that is the global service (see above); the table follows the cloud anyway, with the Azure CLI's values
// (`az cloud show --query endpoints.microsoftGraphResourceId`, what the scripts in infra/scripts use), and any other
// cloud name falls back to the global service.
var microsoftGraphEndpoints = {
  AzureCloud: 'https://graph.microsoft.com'
  AzureUSGovernment: 'https://graph.microsoft.us'
  AzureChinaCloud: 'https://microsoftgraph.chinacloudapi.cn'
}
var cloud = environment().name

output appId string = app.appId
output servicePrincipalId string = servicePrincipal.id
output tokenExchangeAudience string = tokenExchangeAudiences[graphCloud]
output microsoftGraphServicePrincipalId string = microsoftGraph.id
output appRoles string = grantCalendarsTenantWide ? '${onlineMeetingsRole},${calendarsRole}${modeRoles}' : '${onlineMeetingsRole}${modeRoles}'
output microsoftGraphEndpoint string = contains(microsoftGraphEndpoints, cloud) ? microsoftGraphEndpoints[cloud] : microsoftGraphEndpoints.AzureCloud
