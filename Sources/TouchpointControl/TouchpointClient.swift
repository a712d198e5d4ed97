import Foundation

/// How a request's payload reaches `touchpointd` and its reply comes back:
/// `AsyncControlClient` (non-blocking, a few connections kept open: the web
/// view) or `ControlClient` (one blocking connection: `touchpointctl`).
public protocol ControlTransport: Sendable {
    /// Sends one request payload and returns the reply's `result` JSON, or
    /// throws the daemon's error. `mayResend`: the command changes nothing,
    /// so after a connection lost with it unanswered it may be sent again.
    func exchange(_ payload: Data, mayResend: Bool) async throws(ClientError) -> Data
}

/// A command's reply: the result JSON as the daemon wrote it (printed as
/// is by `--json`, kept by the web view's list cache) and its typed value,
/// whose type is the command's, chosen here once for every caller.
public struct ControlAnswer<Value: Decodable & Sendable>: Sendable {
    public let json: Data

    public init(json: Data) { self.json = json }

    public func value() throws(ClientError) -> Value {
        try Self.decode(json)
    }

    /// The value with the control characters in its text made visible
    /// first (`TerminalText`): what reaches a nurse's terminal.
    public func valueForTerminal() throws(ClientError) -> Value {
        try Self.decode(TerminalText.visible(json))
    }

    static func decode(_ data: Data) throws(ClientError) -> Value {
        do {
            return try ControlJSON.decoder.decode(Value.self, from: data)
        } catch {
            throw .protocolError("the daemon's reply could not be read: \(error)")
        }
    }
}

/// The control protocol's client library: a method per operation, each
/// with its typed arguments and its typed reply, used by `touchpointctl`,
/// the web view and anything after them (`touchpoint-hl7`'s
/// `patient-known`). Whether a request may be resent is the command's
/// (`ControlCommand.mayResend`).
public struct TouchpointClient: Sendable {
    let transport: any ControlTransport
    /// The person every request is made for (a delegate's), if any.
    public let delegation: Delegation?

    public init(_ transport: any ControlTransport, acting delegation: Delegation? = nil) {
        self.transport = transport
        self.delegation = delegation
    }

    /// The same client, acting for `delegation` (the web view's signed-in nurse).
    public func acting(for delegation: Delegation?) -> TouchpointClient {
        TouchpointClient(transport, acting: delegation)
    }

    /// Sends `command`; its reply as `Value`.
    public func send<Value: Decodable & Sendable>(_ command: ControlCommand, replying: Value.Type) async throws(ClientError)
        -> ControlAnswer<Value>
    {
        guard let payload = try? ControlJSON.encoder.encode(command.request(acting: delegation)) else {
            throw .protocolError("could not encode the request")
        }
        return ControlAnswer(json: try await transport.exchange(payload, mayResend: command.mayResend))
    }

    public func status() async throws(ClientError) -> ControlAnswer<StatusReport> { try await send(.status, replying: StatusReport.self) }
    public func calls(_ q: CallsQuery) async throws(ClientError) -> ControlAnswer<CallsReport> { try await send(.calls(q), replying: CallsReport.self) }
    public func outcome(_ o: OutcomeRequest) async throws(ClientError) -> ControlAnswer<JobView> { try await send(.outcome(o), replying: JobView.self) }
    public func jobs(_ q: JobsQuery) async throws(ClientError) -> ControlAnswer<JobsReport> { try await send(.jobs(q), replying: JobsReport.self) }
    public func job(_ id: String) async throws(ClientError) -> ControlAnswer<JobView> { try await send(.job(id: id), replying: JobView.self) }
    public func explain(_ ref: String) async throws(ClientError) -> ControlAnswer<ExplainReport> {
        try await send(.explain(ref: ref), replying: ExplainReport.self)
    }
    public func rejects(limit: Int?, showLine: Bool) async throws(ClientError) -> ControlAnswer<RejectsReport> {
        try await send(.rejects(limit: limit, showLine: showLine), replying: RejectsReport.self)
    }
    public func report(_ q: ReportQuery) async throws(ClientError) -> ControlAnswer<PledgeReportView> {
        try await send(.report(q), replying: PledgeReportView.self)
    }
    public func patientKnown(_ patient: String) async throws(ClientError) -> ControlAnswer<PatientKnownReport> {
        try await send(.patientKnown(patient: patient), replying: PatientKnownReport.self)
    }
    public func ingest() async throws(ClientError) -> ControlAnswer<IngestReport> { try await send(.ingest, replying: IngestReport.self) }
    public func pause() async throws(ClientError) -> ControlAnswer<StatusReport> { try await send(.pause, replying: StatusReport.self) }
    public func resume() async throws(ClientError) -> ControlAnswer<StatusReport> { try await send(.resume, replying: StatusReport.self) }
    public func reload() async throws(ClientError) -> ControlAnswer<StatusReport> { try await send(.reload, replying: StatusReport.self) }
    public func cancel(_ job: String, reason: String) async throws(ClientError) -> ControlAnswer<JobView> {
        try await send(.cancel(job: job, reason: reason), replying: JobView.self)
    }
    public func retry(_ job: String) async throws(ClientError) -> ControlAnswer<JobView> { try await send(.retry(job: job), replying: JobView.self) }
    public func take(_ job: String) async throws(ClientError) -> ControlAnswer<JobView> { try await send(.take(job: job), replying: JobView.self) }
    public func reopen(_ job: String, reason: String) async throws(ClientError) -> ControlAnswer<JobView> {
        try await send(.reopen(job: job, reason: reason), replying: JobView.self)
    }
    /// The jobs the death had cancelled, as they now stand.
    public func undeceased(_ patient: String, reason: String) async throws(ClientError) -> ControlAnswer<JobsReport> {
        try await send(.undeceased(patient: patient, reason: reason), replying: JobsReport.self)
    }
    public func backup() async throws(ClientError) -> ControlAnswer<BackupReport> { try await send(.backup, replying: BackupReport.self) }
}
