"""The integration solution the portal imports into Dataverse (BC: codeunit 5330 CRM Integration Management,
ImportCRMSolution: unique name ``MicrosoftDynamicsNavIntegration``, security roles "Integration administrator" and
"Integration user").

The package is a standard solution zip (``[Content_Types].xml``, ``solution.xml``, ``customizations.xml``) built in
memory, so no binary lives in the repository.
"""
from __future__ import annotations

import io
import uuid
import zipfile

SOLUTION_UNIQUE_NAME = "MicrosoftDynamicsNavIntegration"
SOLUTION_VERSION = "2.0.0.0"
#: Root business unit role ids shipped by the solution (BC: ImportCRMSolution and TestIntegrationUserRequirements).
INTEGRATION_ADMINISTRATOR_ROLE_ID = uuid.UUID("8c8d4f51-a72b-e511-80d9-3863bb349780")
INTEGRATION_USER_ROLE_ID = uuid.UUID("6f960e32-a72b-e511-80d9-3863bb349780")
INTEGRATION_ROLES = {
    INTEGRATION_ADMINISTRATOR_ROLE_ID: "Integration administrator",
    INTEGRATION_USER_ROLE_ID: "Integration user",
}
#: Role template of System Administrator; the integration user must not hold a role based on it (BC:
#: TestIntegrationUserRequirements).
SYSTEM_ADMINISTRATOR_ROLE_TEMPLATE_ID = uuid.UUID("627090ff-40a3-4053-8790-584edc5be201")

_CONTENT_TYPES = """<?xml version="1.0" encoding="utf-8"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">
<Default Extension="xml" ContentType="application/octet-stream" /></Types>"""

_SOLUTION = f"""<?xml version="1.0" encoding="utf-8"?>
<ImportExportXml version="9.2.0.0" SolutionPackageVersion="9.2" languagecode="1033" generatedBy="CrmLive">
  <SolutionManifest>
    <UniqueName>{SOLUTION_UNIQUE_NAME}</UniqueName>
    <LocalizedNames><LocalizedName description="Dynamics 365 Business Central Integration" languagecode="1033" />
    </LocalizedNames>
    <Version>{SOLUTION_VERSION}</Version>
    <Managed>1</Managed>
    <Publisher><UniqueName>microsoftdynamicsnav</UniqueName><CustomizationPrefix>nav</CustomizationPrefix></Publisher>
    <RootComponents />
  </SolutionManifest>
</ImportExportXml>"""

_CUSTOMIZATIONS = """<?xml version="1.0" encoding="utf-8"?>
<ImportExportXml xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <Entities />
  <Roles>
    <Role id="{8c8d4f51-a72b-e511-80d9-3863bb349780}" name="Integration administrator" />
    <Role id="{6f960e32-a72b-e511-80d9-3863bb349780}" name="Integration user" />
  </Roles>
  <Workflows />
  <Languages><Language>1033</Language></Languages>
</ImportExportXml>"""


def solution_package() -> bytes:
    """Return the integration solution zip (bytes) for the ``ImportSolution`` action (Microsoft Learn: "ImportSolution
    Action")."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", _CONTENT_TYPES)
        archive.writestr("solution.xml", _SOLUTION)
        archive.writestr("customizations.xml", _CUSTOMIZATIONS)
    return buffer.getvalue()
