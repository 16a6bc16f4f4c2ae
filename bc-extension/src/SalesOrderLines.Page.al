// Business Central Portal Integration: API page of the portal's custom API (api/bcportal/integration/v1.0).
page 50116 "BCP Sales Order Lines"
{
    PageType = API;
    APIPublisher = 'bcportal';
    APIGroup = 'integration';
    APIVersion = 'v1.0';
    EntityName = 'salesOrderLine';
    EntitySetName = 'salesOrderLines';
    EntityCaption = 'Sales Order Line';
    EntitySetCaption = 'Sales Order Lines';
    SourceTable = "Sales Line";
    ODataKeyFields = SystemId;
    DelayedInsert = true;
    Extensible = false;
    SourceTableView = where("Document Type" = const(Order));

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
                field(documentId; Rec."Document Id")
                {
                    Caption = 'Document Id';
                }
                field(documentType; Rec."Document Type")
                {
                    Caption = 'Document Type';
                    Editable = false;
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
                field(description2; Rec."Description 2")
                {
                    Caption = 'Description 2';
                }
                field(unitOfMeasureCode; Rec."Unit of Measure Code")
                {
                    Caption = 'Unit of Measure Code';
                }
                field(quantity; Rec.Quantity)
                {
                    Caption = 'Quantity';
                }
                field(unitPrice; Rec."Unit Price")
                {
                    Caption = 'Unit Price';
                }
                field(discountAmount; Rec."Line Discount Amount")
                {
                    Caption = 'Line Discount Amount';
                }
                field(discountPercent; Rec."Line Discount %")
                {
                    Caption = 'Line Discount %';
                }
                field(amountExcludingTax; Rec.Amount)
                {
                    Caption = 'Amount';
                    Editable = false;
                }
                field(amountIncludingTax; Rec."Amount Including VAT")
                {
                    Caption = 'Amount Including VAT';
                    Editable = false;
                }
                field(taxPercent; Rec."VAT %")
                {
                    Caption = 'VAT %';
                    Editable = false;
                }
                field(shipmentDate; Rec."Shipment Date")
                {
                    Caption = 'Shipment Date';
                }
                field(shipQuantity; Rec."Qty. to Ship")
                {
                    Caption = 'Qty. to Ship';
                }
                field(invoiceQuantity; Rec."Qty. to Invoice")
                {
                    Caption = 'Qty. to Invoice';
                }
                field(shippedQuantity; Rec."Quantity Shipped")
                {
                    Caption = 'Quantity Shipped';
                    Editable = false;
                }
                field(invoicedQuantity; Rec."Quantity Invoiced")
                {
                    Caption = 'Quantity Invoiced';
                    Editable = false;
                }
                field(currencyCode; Rec."Currency Code")
                {
                    Caption = 'Currency Code';
                    Editable = false;
                }
            }
        }
    }

    trigger OnNewRecord(BelowxRec: Boolean)
    begin
        Rec."Document Type" := Rec."Document Type"::Order;
    end;
}
