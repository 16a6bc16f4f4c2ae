// Business Central Portal Integration: API page of the portal's custom API (api/bcportal/integration/v1.0).
// Unit groups (table 5400 "Unit Group"): one per item and resource, as BC keeps them when unit group mapping is
// enabled. The code is the table's own GetCode() ('ITEM <No.> UOM GR' / 'RESOURCE <No.> UOM GR'). Read-only: rows
// are created by BC's codeunit 5367 "CRM Update Unit Group Mapping" or by the createMissingUnitGroups action of the
// integrationInfo page.
page 50102 "BCP Unit Groups"
{
    PageType = API;
    APIPublisher = 'bcportal';
    APIGroup = 'integration';
    APIVersion = 'v1.0';
    EntityName = 'unitGroup';
    EntitySetName = 'unitGroups';
    EntityCaption = 'Unit Group';
    EntitySetCaption = 'Unit Groups';
    SourceTable = "Unit Group";
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
                field(sourceType; Rec."Source Type")
                {
                    Caption = 'Source Type';
                    Editable = false;
                }
                field(sourceId; Rec."Source Id")
                {
                    Caption = 'Source Id';
                    Editable = false;
                }
                field(sourceNumber; Rec."Source No.")
                {
                    Caption = 'Source No.';
                    Editable = false;
                }
                field(code; UnitGroupCode)
                {
                    Caption = 'Code';
                    Editable = false;
                }
                field(description; SourceName)
                {
                    Caption = 'Description';
                    Editable = false;
                }
                field(sourceName; SourceName)
                {
                    Caption = 'Source Name';
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
        UnitGroupCode := Rec.GetCode();
        SourceName := Rec.GetSourceName();
    end;

    var
        UnitGroupCode: Code[50];
        SourceName: Text[100];
}
