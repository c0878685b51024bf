"""Attribute names of the LDV standard, in one place.

Every component imports these constants instead of spelling the strings, so that a
rename in the standard is a one-line change.
"""

from typing import Final

DPL_PREFIX: Final = "dpl."

# dpl.core: the core standard.
PROCESSING_ACTIVITY_ID: Final = "dpl.core.processing_activity_id"
DATA_SUBJECT_ID: Final = "dpl.core.data_subject_id"
DATA_SUBJECT_ID_TYPE: Final = "dpl.core.data_subject_id_type"
FOREIGN_OPERATION_PROCESSOR: Final = "dpl.core.foreign_operation.processor"
FOREIGN_OPERATION_SPAN_ID: Final = "dpl.core.foreign_operation.span_id"

# dpl.read: the "lezen" extension.
EXTERNAL_READ_API_ID: Final = "dpl.read.externalReadAPI_id"

# Errors, as OpenTelemetry semantic conventions name them.
EXCEPTION_MESSAGE: Final = "exception.message"
EXCEPTION_TYPE: Final = "exception.type"
EXCEPTION_STACKTRACE: Final = "exception.stacktrace"

# Resource attributes. The organisation is not part of the standard; this suite carries it
# in its own extension namespace so a Logboek shared by several organisations can tell them apart.
SERVICE_NAME: Final = "service.name"
ORGANISATION: Final = "dpl.suite.organisation"

# The data subject id types the standard names explicitly.
SUBJECT_TYPE_BSN: Final = "BSN"
