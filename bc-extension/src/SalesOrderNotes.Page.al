// Business Central Portal Integration: API page of the portal's custom API (api/bcportal/integration/v1.0).
// The notes of sales orders (table 2000000068 "Record Link", Type = Note, linked to a "Sales Header" record), which
// the Sales Order Notes job exchanges with the notes (annotation) of the coupled Dynamics 365 Sales orders (BC:
// codeunit "CRM Notes Synch Job"). salesOrderId is the order's SystemId; a note of any other record has an empty one.
page 50125 "BCP Sales Order Notes"
{
    PageType = API;
    APIPublisher = 'bcportal';
    APIGroup = 'integration';
    APIVersion = 'v1.0';
    EntityName = 'salesOrderNote';
    EntitySetName = 'salesOrderNotes';
    EntityCaption = 'Sales Order Note';
    EntitySetCaption = 'Sales Order Notes';
    SourceTable = "Record Link";
    SourceTableView = where(Type = const(Note));
    ODataKeyFields = SystemId;
    DelayedInsert = true;
    Extensible = false;
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
                field(salesOrderId; SalesOrderId)
                {
                    Caption = 'Sales Order Id';
                }
                field(note; NoteText)
                {
                    Caption = 'Note';
                }
                field(created; Rec.Created)
                {
                    Caption = 'Created';
                    Editable = false;
                }
                field(userId; Rec."User ID")
                {
                    Caption = 'User ID';
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
        SalesHeader: Record "Sales Header";
        RecordLinkManagement: Codeunit "Record Link Management";
    begin
        Clear(SalesOrderId);
        if Rec."Record ID".TableNo = Database::"Sales Header" then
            if SalesHeader.Get(Rec."Record ID") then
                SalesOrderId := SalesHeader.SystemId;
        Rec.CalcFields(Note);
        NoteText := RecordLinkManagement.ReadNote(Rec);
    end;

    trigger OnInsertRecord(BelowxRec: Boolean): Boolean
    var
        SalesHeader: Record "Sales Header";
        RecordLinkManagement: Codeunit "Record Link Management";
    begin
        SalesHeader.GetBySystemId(SalesOrderId);
        Rec."Record ID" := SalesHeader.RecordId;
        Rec.Type := Rec.Type::Note;
        Rec.Description := CopyStr(NoteText, 1, MaxStrLen(Rec.Description));
        Rec.Created := CurrentDateTime();
        Rec."User ID" := CopyStr(UserId(), 1, MaxStrLen(Rec."User ID"));
        Rec.Company := CopyStr(CompanyName(), 1, MaxStrLen(Rec.Company));
        RecordLinkManagement.WriteNote(Rec, NoteText);
    end;

    var
        SalesOrderId: Guid;
        NoteText: Text;
}
