// Business Central Portal Integration: API page of the portal's custom API (api/bcportal/integration/v1.0).
// The lines of archived sales orders (table 5108 "Sales Line Archive"), which the Archived Sales Orders job writes to
// the Dynamics 365 Sales order of a posted and deleted BC order (BC: codeunit 5366 "CRM Archived Sales Orders Job").
page 50124 "BCP Sales Line Archives"
{
    PageType = API;
    APIPublisher = 'bcportal';
    APIGroup = 'integration';
    APIVersion = 'v1.0';
    EntityName = 'salesLineArchive';
    EntitySetName = 'salesLineArchives';
    EntityCaption = 'Sales Line Archive';
    EntitySetCaption = 'Sales Line Archives';
    SourceTable = "Sales Line Archive";
    ODataKeyFields = SystemId;
    DelayedInsert = true;
    Extensible = false;
    Editable = false;
    InsertAllowed = false;
    ModifyAllowed = false;
    DeleteAllowed = false;
    DataAccessIntent = ReadOnly;

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
                field(documentType; Rec."Document Type")
                {
                    Caption = 'Document Type';
                }
                field(documentNumber; Rec."Document No.")
                {
                    Caption = 'Document No.';
                }
                field(docNoOccurrence; Rec."Doc. No. Occurrence")
                {
                    Caption = 'Doc. No. Occurrence';
                }
                field(versionNumber; Rec."Version No.")
                {
                    Caption = 'Version No.';
                }
                field(sequence; Rec."Line No.")
                {
                    Caption = 'Line No.';
                }
                field(lineType; Rec.Type)
                {
                    Caption = 'Type';
                }
                field(lineObjectNumber; Rec."No.")
                {
                    Caption = 'No.';
                }
                field(description; Rec.Description)
                {
                    Caption = 'Description';
                }
                field(unitOfMeasureCode; Rec."Unit of Measure Code")
                {
                    Caption = 'Unit of Measure Code';
                }
                field(quantity; Rec.Quantity)
                {
                    Caption = 'Quantity';
                }
                field(shippedQuantity; Rec."Quantity Shipped")
                {
                    Caption = 'Quantity Shipped';
                }
                field(invoicedQuantity; Rec."Quantity Invoiced")
                {
                    Caption = 'Quantity Invoiced';
                }
                field(unitPrice; Rec."Unit Price")
                {
                    Caption = 'Unit Price';
                }
                field(discountAmount; Rec."Line Discount Amount")
                {
                    Caption = 'Line Discount Amount';
                }
                field(amountExcludingTax; Rec.Amount)
                {
                    Caption = 'Amount';
                }
                field(amountIncludingTax; Rec."Amount Including VAT")
                {
                    Caption = 'Amount Including VAT';
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
