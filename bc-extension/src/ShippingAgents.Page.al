// Business Central Portal Integration: API page of the portal's custom API (api/bcportal/integration/v1.0).
page 50101 "BCP Shipping Agents"
{
    PageType = API;
    APIPublisher = 'bcportal';
    APIGroup = 'integration';
    APIVersion = 'v1.0';
    EntityName = 'shippingAgent';
    EntitySetName = 'shippingAgents';
    EntityCaption = 'Shipping Agent';
    EntitySetCaption = 'Shipping Agents';
    SourceTable = "Shipping Agent";
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
                field(code; Rec.Code)
                {
                    Caption = 'Code';
                }
                field(displayName; Rec.Name)
                {
                    Caption = 'Name';
                }
                field(internetAddress; Rec."Internet Address")
                {
                    Caption = 'Internet Address';
                }
                field(accountNumber; Rec."Account No.")
                {
                    Caption = 'Account No.';
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
