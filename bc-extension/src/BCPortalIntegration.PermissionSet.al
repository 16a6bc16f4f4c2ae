// Business Central Portal Integration: the permissions the integration's Microsoft Entra application needs on the
// custom API, assigned on the "Microsoft Entra Applications" card (with D365 BASIC and, for API v2.0, D365 READ or
// the standard API permission sets your tenant uses). R for tables the integration only reads (the customer ledger
// tables behind the customer statistics' FlowFields among them); RI for the notes of sales orders (Record Link);
// RIM/RIMD where it writes (customers, contacts and opportunities from Dynamics 365 Sales; sales orders and their
// lines, which it reopens, changes and releases; unit groups, created by createMissingUnitGroups).
permissionset 50100 "BCPORTAL INTEGRATION"
{
    Assignable = true;
    Caption = 'BC Portal Integration';
    Permissions =
        tabledata Contact = RIM,
        tabledata "Detailed Cust. Ledg. Entry" = R,
        tabledata "Company Information" = R,
        tabledata "CRM Integration Record" = R,
        tabledata "Cust. Ledger Entry" = R,
        tabledata Customer = RIM,
        tabledata "Customer Price Group" = R,
        tabledata "Integration Table Mapping" = R,
        tabledata Item = R,
        tabledata "Item Unit of Measure" = R,
        tabledata Opportunity = RIM,
        tabledata "Price List Header" = R,
        tabledata "Price List Line" = R,
        tabledata "Record Link" = RI,
        tabledata Resource = R,
        tabledata "Resource Unit of Measure" = R,
        tabledata "Sales Header" = RIMD,
        tabledata "Sales Header Archive" = R,
        tabledata "Sales Invoice Header" = R,
        tabledata "Sales Line" = RIMD,
        tabledata "Sales Line Archive" = R,
        tabledata "Shipping Agent" = R,
        tabledata "Unit Group" = RIM,
        tabledata Vendor = R,
        page "BCP Contacts" = X,
        page "BCP CRM Integration Records" = X,
        page "BCP Customer Price Groups" = X,
        page "BCP Customer Statistics" = X,
        page "BCP Customers" = X,
        page "BCP Integration Info" = X,
        page "BCP Integration Table Mappings" = X,
        page "BCP Item Units of Measure" = X,
        page "BCP Items" = X,
        page "BCP Opportunities" = X,
        page "BCP Price List Headers" = X,
        page "BCP Price List Lines" = X,
        page "BCP Resource Units of Measure" = X,
        page "BCP Resources" = X,
        page "BCP Sales Header Archives" = X,
        page "BCP Sales Invoices" = X,
        page "BCP Sales Line Archives" = X,
        page "BCP Sales Order Notes" = X,
        page "BCP Sales Order Lines" = X,
        page "BCP Sales Orders" = X,
        page "BCP Shipping Agents" = X,
        page "BCP Unit Groups" = X,
        page "BCP Vendors" = X;
}
