// Business Central Portal Integration: API page of the portal's custom API (api/bcportal/integration/v1.0).
page 50111 "BCP Contacts"
{
    PageType = API;
    APIPublisher = 'bcportal';
    APIGroup = 'integration';
    APIVersion = 'v1.0';
    EntityName = 'contact';
    EntitySetName = 'contacts';
    EntityCaption = 'Contact';
    EntitySetCaption = 'Contacts';
    SourceTable = Contact;
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
                field(type; Rec.Type)
                {
                    Caption = 'Type';
                }
                field(displayName; Rec.Name)
                {
                    Caption = 'Name';
                }
                field(jobTitle; Rec."Job Title")
                {
                    Caption = 'Job Title';
                }
                field(companyNumber; Rec."Company No.")
                {
                    Caption = 'Company No.';
                }
                field(companyName; Rec."Company Name")
                {
                    Caption = 'Company Name';
                    Editable = false;
                }
                field(contactBusinessRelation; Rec."Contact Business Relation")
                {
                    Caption = 'Contact Business Relation';
                    Editable = false;
                }
                field(addressLine1; Rec.Address)
                {
                    Caption = 'Address';
                }
                field(addressLine2; Rec."Address 2")
                {
                    Caption = 'Address 2';
                }
                field(city; Rec.City)
                {
                    Caption = 'City';
                }
                field(state; Rec.County)
                {
                    Caption = 'County';
                }
                field(country; Rec."Country/Region Code")
                {
                    Caption = 'Country/Region Code';
                }
                field(postalCode; Rec."Post Code")
                {
                    Caption = 'Post Code';
                }
                field(phoneNumber; Rec."Phone No.")
                {
                    Caption = 'Phone No.';
                }
                field(mobilePhoneNumber; Rec."Mobile Phone No.")
                {
                    Caption = 'Mobile Phone No.';
                }
                field(email; Rec."E-Mail")
                {
                    Caption = 'E-Mail';
                }
                field(website; Rec."Home Page")
                {
                    Caption = 'Home Page';
                }
                field(searchName; Rec."Search Name")
                {
                    Caption = 'Search Name';
                }
                field(privacyBlocked; Rec."Privacy Blocked")
                {
                    Caption = 'Privacy Blocked';
                }
                field(taxRegistrationNumber; Rec."VAT Registration No.")
                {
                    Caption = 'VAT Registration No.';
                }
                field(lastInteractionDate; Rec."Date of Last Interaction")
                {
                    Caption = 'Date of Last Interaction';
                    Editable = false;
                }
                field(firstName; Rec."First Name")
                {
                    Caption = 'First Name';
                }
                field(middleName; Rec."Middle Name")
                {
                    Caption = 'Middle Name';
                }
                field(surname; Rec.Surname)
                {
                    Caption = 'Surname';
                }
                field(faxNumber; Rec."Fax No.")
                {
                    Caption = 'Fax No.';
                }
                field(pager; Rec.Pager)
                {
                    Caption = 'Pager';
                }
                field(currencyCode; Rec."Currency Code")
                {
                    Caption = 'Currency Code';
                }
                field(salespersonCode; Rec."Salesperson Code")
                {
                    Caption = 'Salesperson Code';
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
