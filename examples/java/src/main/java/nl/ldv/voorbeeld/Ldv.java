package nl.ldv.voorbeeld;

/** The attributes of an LDV record: the standard's dpl.* names, and the suite's resource attribute. */
public final class Ldv {
    public static final String PROCESSING_ACTIVITY_ID = "dpl.core.processing_activity_id";
    public static final String DATA_SUBJECT_ID = "dpl.core.data_subject_id";
    public static final String DATA_SUBJECT_ID_TYPE = "dpl.core.data_subject_id_type";
    public static final String FOREIGN_OPERATION_PROCESSOR = "dpl.core.foreign_operation.processor";
    public static final String FOREIGN_OPERATION_SPAN_ID = "dpl.core.foreign_operation.span_id";
    /** A resource attribute: set it in OTEL_RESOURCE_ATTRIBUTES. */
    public static final String ORGANISATION = "dpl.suite.organisation";
    public static final String SUBJECT_TYPE_BSN = "BSN";
    /** The tracestate entry in which a caller names its application. */
    public static final String TRACESTATE_KEY = "ldv";

    private Ldv() {}
}
