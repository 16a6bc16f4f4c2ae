// Business Central Portal Integration: API page of the portal's custom API (api/bcportal/integration/v1.0).
// BC's own couplings (table 5331 "CRM Integration Record"), read-only: the portal imports them when it takes over
// from BC's built-in Dynamics 365 Sales integration.
page 50121 "BCP CRM Integration Records"
{
    PageType = API;
    APIPublisher = 'bcportal';
    APIGroup = 'integration';
    APIVersion = 'v1.0';
    EntityName = 'crmIntegrationRecord';
    EntitySetName = 'crmIntegrationRecords';
    EntityCaption = 'CRM Integration Record';
    EntitySetCaption = 'CRM Integration Records';
    SourceTable = "CRM Integration Record";
    ODataKeyFields = SystemId;
    DelayedInsert = true;
    Extensible = false;
    Editable = false;
    InsertAllowed = false;
    ModifyAllowed = false;
    DeleteAllowed = false;

    layout
    {
        area(Content)
        {
            repeater(Records)
            {
                field(id; Rec.SystemId)
                {
                    Caption = 'Id';
                    Editable = false;
                }
                field(crmId; Rec."CRM ID")
                {
                    Caption = 'CRM ID';
                    Editable = false;
                }
                field(integrationId; Rec."Integration ID")
                {
                    Caption = 'Integration ID';
                    Editable = false;
                }
                field(tableId; Rec."Table ID")
                {
                    Caption = 'Table ID';
                    Editable = false;
                }
                field(lastSynchModifiedOn; Rec."Last Synch. Modified On")
                {
                    Caption = 'Last Synch. Modified On';
                    Editable = false;
                }
                field(lastSynchCrmModifiedOn; Rec."Last Synch. CR Modified On")
                {
                    Caption = 'Last Synch. CR Modified On';
                    Editable = false;
                }
                field(lastSynchResult; Rec."Last Synch. Result")
                {
                    Caption = 'Last Synch. Result';
                    Editable = false;
                }
                field(lastSynchCrmResult; Rec."Last Synch. CR Result")
                {
                    Caption = 'Last Synch. CR Result';
                    Editable = false;
                }
                field(lastSynchJobId; Rec."Last Synch. Job ID")
                {
                    Caption = 'Last Synch. Job ID';
                    Editable = false;
                }
                field(lastSynchCrmJobId; Rec."Last Synch. CR Job ID")
                {
                    Caption = 'Last Synch. CR Job ID';
                    Editable = false;
                }
                field(skipped; Rec.Skipped)
                {
                    Caption = 'Skipped';
                    Editable = false;
                }
                field(lastModifiedDateTime; Rec.SystemModifiedAt)
                {
                    Caption = 'Last Modified Date Time';
                    Editable = false;
                }
            }
        }
    }
}
