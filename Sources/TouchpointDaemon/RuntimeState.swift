import Foundation
import Synchronization
import TouchpointConfig
import TouchpointDispatch

public enum TouchpointVersion {
    public static let string = "0.1.0"
}

/// What the running daemon shares between its services: the current config
/// (replaced whole on reload) and when it started.
final class RuntimeState: Sendable {
    private let current: Mutex<(TouchpointConfig, NoticeTemplates)>
    let startedAt = Date()

    init(config: TouchpointConfig, templates: NoticeTemplates) {
        current = Mutex((config, templates))
    }

    var config: TouchpointConfig { current.withLock { $0.0 } }
    var templates: NoticeTemplates { current.withLock { $0.1 } }

    func replace(_ config: TouchpointConfig, _ templates: NoticeTemplates) { current.withLock { $0 = (config, templates) } }
}
