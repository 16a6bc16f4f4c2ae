// Business Central Portal Integration: API page of the portal's custom API (api/bcportal/integration/v1.0).
page 50105 "BCP Customer Price Groups"
{
    PageType = API;
    APIPublisher = 'bcportal';
    APIGroup = 'integration';
    APIVersion = 'v1.0';
    EntityName = 'customerPriceGroup';
    EntitySetName = 'customerPriceGroups';
    EntityCaption = 'Customer Price Group';
    EntitySetCaption = 'Customer Price Groups';
    SourceTable = "Customer Price Group";
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
                field(description; Rec.Description)
                {
                    Caption = 'Description';
                }
                field(priceIncludesVAT; Rec."Price Includes VAT")
                {
                    Caption = 'Price Includes VAT';
                }
                field(allowInvoiceDisc; Rec."Allow Invoice Disc.")
                {
                    Caption = 'Allow Invoice Disc.';
                }
                field(allowLineDisc; Rec."Allow Line Disc.")
                {
                    Caption = 'Allow Line Disc.';
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
