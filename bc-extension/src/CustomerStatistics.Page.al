// Business Central Portal Integration: API page of the portal's custom API (api/bcportal/integration/v1.0).
// The customer statistics that BC's "CRM Statistics Job" (codeunit 5350) writes to Dynamics 365 Sales, one record
// per customer, all in LCY: the FlowFields of table 18 Customer and the values of its procedures CalcOverdueBalance,
// GetInvoicedPrepmtAmountLCY and GetTotalAmountLCY, which API v2.0's customerFinancialDetails does not serve.
page 50123 "BCP Customer Statistics"
{
    PageType = API;
    APIPublisher = 'bcportal';
    APIGroup = 'integration';
    APIVersion = 'v1.0';
    EntityName = 'customerStatistic';
    EntitySetName = 'customerStatistics';
    EntityCaption = 'Customer Statistic';
    EntitySetCaption = 'Customer Statistics';
    SourceTable = Customer;
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
                field(number; Rec."No.")
                {
                    Caption = 'No.';
                    Editable = false;
                }
                field(displayName; Rec.Name)
                {
                    Caption = 'Name';
                    Editable = false;
                }
                field(balanceLCY; Rec."Balance (LCY)")
                {
                    Caption = 'Balance (LCY)';
                    Editable = false;
                }
                field(outstandingOrdersLCY; Rec."Outstanding Orders (LCY)")
                {
                    Caption = 'Outstanding Orders (LCY)';
                    Editable = false;
                }
                field(shippedNotInvoicedLCY; Rec."Shipped Not Invoiced (LCY)")
                {
                    Caption = 'Shipped Not Invoiced (LCY)';
                    Editable = false;
                }
                field(outstandingInvoicesLCY; Rec."Outstanding Invoices (LCY)")
                {
                    Caption = 'Outstanding Invoices (LCY)';
                    Editable = false;
                }
                field(salesLCY; Rec."Sales (LCY)")
                {
                    Caption = 'Sales (LCY)';
                    Editable = false;
                }
                field(creditLimitLCY; Rec."Credit Limit (LCY)")
                {
                    Caption = 'Credit Limit (LCY)';
                    Editable = false;
                }
                field(overdueAmountLCY; OverdueAmountLCY)
                {
                    Caption = 'Overdue Amounts (LCY)';
                    Editable = false;
                }
                field(invoicedPrepaymentAmountLCY; InvoicedPrepmtAmountLCY)
                {
                    Caption = 'Invoiced Prepayment Amount (LCY)';
                    Editable = false;
                }
                field(totalAmountLCY; TotalAmountLCY)
                {
                    Caption = 'Total (LCY)';
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
        Rec.CalcFields("Balance (LCY)", "Outstanding Orders (LCY)", "Shipped Not Invoiced (LCY)",
            "Outstanding Invoices (LCY)", "Sales (LCY)");
        OverdueAmountLCY := Rec.CalcOverdueBalance();
        InvoicedPrepmtAmountLCY := Rec.GetInvoicedPrepmtAmountLCY();
        TotalAmountLCY := Rec.GetTotalAmountLCY();
    end;

    var
        OverdueAmountLCY: Decimal;
        InvoicedPrepmtAmountLCY: Decimal;
        TotalAmountLCY: Decimal;
}
