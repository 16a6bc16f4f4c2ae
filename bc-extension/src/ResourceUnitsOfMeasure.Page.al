// Business Central Portal Integration: API page of the portal's custom API (api/bcportal/integration/v1.0).
page 50103 "BCP Resource Units of Measure"
{
    PageType = API;
    APIPublisher = 'bcportal';
    APIGroup = 'integration';
    APIVersion = 'v1.0';
    EntityName = 'resourceUnitOfMeasure';
    EntitySetName = 'resourceUnitsOfMeasure';
    EntityCaption = 'Resource Unit of Measure';
    EntitySetCaption = 'Resource Unit of Measures';
    SourceTable = "Resource Unit of Measure";
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
                field(resourceNumber; Rec."Resource No.")
                {
                    Caption = 'Resource No.';
                }
                field(code; Rec.Code)
                {
                    Caption = 'Code';
                }
                field(qtyPerUnitOfMeasure; Rec."Qty. per Unit of Measure")
                {
                    Caption = 'Qty. per Unit of Measure';
                }
                field(relatedToBaseUnitOfMeasure; Rec."Related to Base Unit of Meas.")
                {
                    Caption = 'Related to Base Unit of Meas.';
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
