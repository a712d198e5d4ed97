import Hummingbird
import NIOCore
import Synchronization
import struct TouchpointDomain.WardNames

/// The signed-in person a request is made by: every daemon request made for
/// it carries `as: name`, so the daemon records `NAME via web`.
public struct Viewer: Sendable, Equatable {
    public var name: String
    /// The wards whose calls this person sees; empty: every ward.
    public var wards: [String]
    /// The token every form must carry back (CSRF).
    public var csrf: String
    /// Where this person's one-time confirmation is kept (the session).
    var flashKey: String
    /// The session to end on sign-out (accounts only).
    var session: WebSession?
    /// What touchpointd warns of now, for the banner on every page.
    var warnings: [String] = []

    func sees(ward: String?) -> Bool { wards.isEmpty || ward.map { WardNames.contains(wards, $0) } == true }
}

/// What the access log needs from deep in the router: who made the request.
final class RequestNotes: Sendable {
    let user = Mutex<String?>(nil)
}

/// Each request's context: the connection it came on (a proxy's Unix peer is
/// checked on it) and, behind `SignedIn`, the viewer.
public struct WebContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    public let channel: any Channel
    var viewer: Viewer?
    let notes: RequestNotes

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        channel = source.channel
        viewer = nil
        notes = RequestNotes()
    }

    /// Forms are small: a note of up to 1,000 characters and a few fields.
    public var maxUploadSize: Int { 16 * 1024 }
}
