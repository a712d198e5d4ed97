/// A number the pledge report gives for a promise (`report.md`): the
/// categories a counted booking falls in, the extras counted beside them, and
/// how many bookings were counted or excluded. Named as `report.md` names them,
/// which is also how `--list` and the JSON, CSV and HTML name them.
public enum PledgeMeasure: String, CaseIterable, Sendable, Codable, Comparable {
    // The check-in call.
    case calledOnDay = "called_on_day"
    case calledLater = "called_later"
    case notCalled = "not_called"
    case notRequired = "not_required"
    case reached = "reached"
    case woundCareDiscussed = "wound_care_discussed"
    case declined = "declined"
    case escalated = "escalated"
    /// Beside the categories: calls on which the patient raised a concern
    /// (`reached --concern`), followed up by the breast care nurse.
    case concernsFound = "concerns_found"
    // Wait notices.
    case informed = "informed"
    case delays = "delays"
    case delaysNotified = "delays_notified"
    // Open Access information.
    case inTime = "in_time"
    case inTimeLateBooking = "in_time_late_booking"
    case late = "late"
    // A configured notice.
    case onTime = "on_time"
    // Notices of either kind.
    case suppressed = "suppressed"
    case failed = "failed"
    case notSent = "not_sent"
    /// Beside the categories: notices whose receipt says delivered (`notify`).
    case delivered = "delivered"
    /// Beside the categories: notices Notify sent abroad, to a country that
    /// gives no receipts (`sent`, final): not failures, not known delivered.
    case sentNoReceipt = "sent_no_receipt"
    // Every promise.
    case counted = "counted"
    case excluded = "excluded"

    /// "wound care discussed": how the table and the HTML page say it.
    public var words: String {
        self == .sentNoReceipt ? DeliveryStatus.sent.words : rawValue.replacingOccurrences(of: "_", with: " ")
    }

    public static func < (a: PledgeMeasure, b: PledgeMeasure) -> Bool { a.rawValue < b.rawValue }
}
