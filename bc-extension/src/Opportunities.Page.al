// Business Central Portal Integration: API page of the portal's custom API (api/bcportal/integration/v1.0).
page 50113 "BCP Opportunities"
{
    PageType = API;
    APIPublisher = 'bcportal';
    APIGroup = 'integration';
    APIVersion = 'v1.0';
    EntityName = 'opportunity';
    EntitySetName = 'opportunities';
    EntityCaption = 'Opportunity';
    EntitySetCaption = 'Opportunitys';
    SourceTable = Opportunity;
    ODataKeyFields = SystemId;
    DelayedInsert = true;
    Extensible = false;

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
                field(number; Rec."No.")
                {
                    Caption = 'No.';
                }
                field(contactNumber; Rec."Contact No.")
                {
                    Caption = 'Contact No.';
                }
                field(contactName; Rec."Contact Name")
                {
                    Caption = 'Contact Name';
                    Editable = false;
                }
                field(contactCompanyName; Rec."Contact Company Name")
                {
                    Caption = 'Contact Company Name';
                    Editable = false;
                }
                field(contactCompanyNumber; Rec."Contact Company No.")
                {
                    Caption = 'Contact Company No.';
                    Editable = false;
                }
                field(salespersonCode; Rec."Salesperson Code")
                {
                    Caption = 'Salesperson Code';
                }
                field(description; Rec.Description)
                {
                    Caption = 'Description';
                }
                field(status; Rec.Status)
                {
                    Caption = 'Status';
                }
                field(closed; Rec.Closed)
                {
                    Caption = 'Closed';
                }
                field(creationDate; Rec."Creation Date")
                {
                    Caption = 'Creation Date';
                }
                field(dateClosed; Rec."Date Closed")
                {
                    Caption = 'Date Closed';
                }
                field(calculatedCurrentValue; Rec."Calcd. Current Value (LCY)")
                {
                    Caption = 'Calcd. Current Value (LCY)';
                    Editable = false;
                }
                field(chancesOfSuccessPrc; Rec."Chances of Success %")
                {
                    Caption = 'Chances of Success %';
                }
                field(completedPrc; Rec."Completed %")
                {
                    Caption = 'Completed %';
                }
                field(estimatedClosingDate; Rec."Estimated Closing Date")
                {
                    Caption = 'Estimated Closing Date';
                }
                field(estimatedValue; Rec."Estimated Value (LCY)")
                {
                    Caption = 'Estimated Value (LCY)';
                }
                field(systemCreatedAt; Rec.SystemCreatedAt)
                {
                    Caption = 'systemCreatedAt';
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
