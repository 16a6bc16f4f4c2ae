// Business Central Portal Integration: API page of the portal's custom API (api/bcportal/integration/v1.0).
// One record per company: the installed extension's identity and version (NavApp.GetCurrentModuleInfo), probed by
// the portal's connection test, and the createMissingUnitGroups bound action.
page 50120 "BCP Integration Info"
{
    PageType = API;
    APIPublisher = 'bcportal';
    APIGroup = 'integration';
    APIVersion = 'v1.0';
    EntityName = 'integrationInfo';
    EntitySetName = 'integrationInfo';
    EntityCaption = 'Integration Info';
    EntitySetCaption = 'Integration Info';
    SourceTable = "Company Information";
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
                field(companyName; Rec.Name)
                {
                    Caption = 'Company Name';
                    Editable = false;
                }
                field(extensionId; ExtensionId)
                {
                    Caption = 'Extension Id';
                    Editable = false;
                }
                field(extensionName; ExtensionName)
                {
                    Caption = 'Extension Name';
                    Editable = false;
                }
                field(extensionPublisher; ExtensionPublisher)
                {
                    Caption = 'Extension Publisher';
                    Editable = false;
                }
                field(extensionVersion; ExtensionVersion)
                {
                    Caption = 'Extension Version';
                    Editable = false;
                }
                field(unitGroupCount; UnitGroupCount)
                {
                    Caption = 'Unit Group Count';
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
    var
        UnitGroup: Record "Unit Group";
        ModuleInfo: ModuleInfo;
    begin
        NavApp.GetCurrentModuleInfo(ModuleInfo);
        ExtensionId := ModuleInfo.Id;
        ExtensionName := ModuleInfo.Name;
        ExtensionPublisher := ModuleInfo.Publisher;
        ExtensionVersion := Format(ModuleInfo.AppVersion);
        UnitGroupCount := UnitGroup.Count();
    end;

    /// <summary>
    /// Creates a Unit Group for each Item and Resource that has none, as codeunit 5367 "CRM Update Unit Group
    /// Mapping" does (CRM Integration Management UpdateItemUnitGroup / UpdateResourceUnitGroup).
    /// POST .../integrationInfo({id})/Microsoft.NAV.createMissingUnitGroups answers {"value": <number created>}.
    /// </summary>
    [ServiceEnabled]
    procedure createMissingUnitGroups(): Integer
    var
        Item: Record Item;
        Resource: Record Resource;
        UnitGroup: Record "Unit Group";
        Created: Integer;
    begin
        Item.SetLoadFields("No.");
        if Item.FindSet() then
            repeat
                if not UnitGroup.Get(UnitGroup."Source Type"::Item, Item.SystemId) then begin
                    UnitGroup.Init();
                    UnitGroup."Source Type" := UnitGroup."Source Type"::Item;
                    UnitGroup."Source Id" := Item.SystemId;
                    UnitGroup."Source No." := Item."No.";
                    UnitGroup.Insert();
                    Created += 1;
                end;
            until Item.Next() = 0;
        Resource.SetLoadFields("No.");
        if Resource.FindSet() then
            repeat
                if not UnitGroup.Get(UnitGroup."Source Type"::Resource, Resource.SystemId) then begin
                    UnitGroup.Init();
                    UnitGroup."Source Type" := UnitGroup."Source Type"::Resource;
                    UnitGroup."Source Id" := Resource.SystemId;
                    UnitGroup."Source No." := Resource."No.";
                    UnitGroup.Insert();
                    Created += 1;
                end;
            until Resource.Next() = 0;
        exit(Created);
    end;

    var
        ExtensionId: Guid;
        ExtensionName: Text;
        ExtensionPublisher: Text;
        ExtensionVersion: Text;
        UnitGroupCount: Integer;
}
