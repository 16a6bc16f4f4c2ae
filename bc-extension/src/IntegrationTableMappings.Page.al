// Business Central Portal Integration: API page of the portal's custom API (api/bcportal/integration/v1.0).
// BC's own integration table mappings (table 5335 "Integration Table Mapping"), read-only. The two filters are
// Blob fields: served as text through the table's GetTableFilter / GetIntegrationTableFilter.
page 50122 "BCP Integration Table Mappings"
{
    PageType = API;
    APIPublisher = 'bcportal';
    APIGroup = 'integration';
    APIVersion = 'v1.0';
    EntityName = 'integrationTableMapping';
    EntitySetName = 'integrationTableMappings';
    EntityCaption = 'Integration Table Mapping';
    EntitySetCaption = 'Integration Table Mappings';
    SourceTable = "Integration Table Mapping";
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
                field(name; Rec.Name)
                {
                    Caption = 'Name';
                    Editable = false;
                }
                field(tableId; Rec."Table ID")
                {
                    Caption = 'Table ID';
                    Editable = false;
                }
                field(integrationTableId; Rec."Integration Table ID")
                {
                    Caption = 'Integration Table ID';
                    Editable = false;
                }
                field(direction; Rec.Direction)
                {
                    Caption = 'Direction';
                    Editable = false;
                }
                field(tableFilter; TableFilter)
                {
                    Caption = 'Table Filter';
                    Editable = false;
                }
                field(integrationTableFilter; IntegrationTableFilter)
                {
                    Caption = 'Integration Table Filter';
                    Editable = false;
                }
                field(synchOnlyCoupledRecords; Rec."Synch. Only Coupled Records")
                {
                    Caption = 'Synch. Only Coupled Records';
                    Editable = false;
                }
                field(dependencyFilter; Rec."Dependency Filter")
                {
                    Caption = 'Dependency Filter';
                    Editable = false;
                }
                field(deleteAfterSynchronization; Rec."Delete After Synchronization")
                {
                    Caption = 'Delete After Synchronization';
                    Editable = false;
                }
                field(updateConflictResolution; Rec."Update-Conflict Resolution")
                {
                    Caption = 'Update-Conflict Resolution';
                    Editable = false;
                }
                field(deletionConflictResolution; Rec."Deletion-Conflict Resolution")
                {
                    Caption = 'Deletion-Conflict Resolution';
                    Editable = false;
                }
                field(status; Rec.Status)
                {
                    Caption = 'Status';
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

    trigger OnAfterGetRecord()
    begin
        TableFilter := Rec.GetTableFilter();
        IntegrationTableFilter := Rec.GetIntegrationTableFilter();
    end;

    var
        TableFilter: Text;
        IntegrationTableFilter: Text;
}
