#include <QTest>

#include "transport/StatusTable.h"

using namespace fmb;

// The one place /mcp failures become statuses: pinned row by row, so a
// change to what a client sees on the wire is a change to this test.
class tst_StatusTable : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void table_data();
    void table();
    void authFailures_data();
    void authFailures();
    void bodyErrors();
    void statelessFailures_data();
    void statelessFailures();
    void sessionRefusals_data();
    void sessionRefusals();
    void answers();
};

Q_DECLARE_METATYPE(fmb::McpFailure)
Q_DECLARE_METATYPE(fmb::FailureHeader)
Q_DECLARE_METATYPE(fmb::StatelessFailureKind)

void tst_StatusTable::table_data()
{
    QTest::addColumn<McpFailure>("failure");
    QTest::addColumn<int>("status");
    QTest::addColumn<int>("rpcCode");
    QTest::addColumn<FailureHeader>("header");

    const int server = JsonRpcError::ServerError;
    const auto row = [](const char *name, McpFailure failure, int status, int rpcCode, FailureHeader header) {
        QTest::newRow(name) << failure << status << rpcCode << header;
    };
    row("Host refused", McpFailure::HostRefused, 403, server, FailureHeader::None);
    row("Origin refused", McpFailure::OriginRefused, 403, server, FailureHeader::None);
    row("unauthenticated", McpFailure::Unauthenticated, 401, server, FailureHeader::Challenge);
    row("token in the query", McpFailure::CredentialsMisplaced, 400, server, FailureHeader::Challenge);
    row("check failed", McpFailure::AuthenticationUnavailable, 503, server, FailureHeader::RetryAfter);
    row("caller forbidden", McpFailure::CallerForbidden, 403, server, FailureHeader::None);
    row("method", McpFailure::MethodNotAllowed, 405, server, FailureHeader::Allow);
    row("Accept", McpFailure::NotAcceptable, 406, server, FailureHeader::None);
    row("Content-Type", McpFailure::UnsupportedMediaType, 415, server, FailureHeader::None);
    row("too large", McpFailure::PayloadTooLarge, 413, server, FailureHeader::None);
    row("parse error", McpFailure::ParseError, 400, JsonRpcError::ParseError, FailureHeader::None);
    row("invalid request", McpFailure::InvalidRequest, 400, JsonRpcError::InvalidRequest,
        FailureHeader::None);
    row("duplicate request id", McpFailure::DuplicateRequestId, 400, JsonRpcError::InvalidRequest,
        FailureHeader::None);
    row("protocol version", McpFailure::UnsupportedProtocolVersion, 400,
        JsonRpcError::UnsupportedProtocolVersion, FailureHeader::None);
    row("2026-07-28 header mismatch", McpFailure::HeaderMismatch, 400, JsonRpcError::HeaderMismatch,
        FailureHeader::None);
    row("2026-07-28 _meta incomplete", McpFailure::InvalidRequestMeta, 400, JsonRpcError::InvalidParams,
        FailureHeader::None);
    row("2026-07-28 unknown method", McpFailure::UnknownMethod, 404, JsonRpcError::MethodNotFound,
        FailureHeader::None);
    row("no session id", McpFailure::MissingSessionId, 400, server, FailureHeader::None);
    row("unknown session", McpFailure::UnknownSession, 404, server, FailureHeader::None);
    row("foreign session", McpFailure::ForeignSession, 403, server, FailureHeader::None);
    row("second GET stream", McpFailure::StreamAlreadyOpen, 409, server, FailureHeader::None);
    row("session cap", McpFailure::SessionCapReached, 503, server, FailureHeader::RetryAfter);
    row("initialize failed", McpFailure::InitializeFailed, 502, server, FailureHeader::None);
}

void tst_StatusTable::table()
{
    QFETCH(McpFailure, failure);
    QFETCH(int, status);
    QFETCH(int, rpcCode);
    QFETCH(FailureHeader, header);

    const FailureStatus entry = StatusTable::of(failure);
    QCOMPARE(entry.status, status);
    QCOMPARE(entry.rpcCode, rpcCode);
    QCOMPARE(entry.header, header);
}

void tst_StatusTable::authFailures_data()
{
    QTest::addColumn<int>("code"); // an ErrorCode
    QTest::addColumn<McpFailure>("failure");

    QTest::newRow("unauthorized") << int(ErrorCode::Unauthorized) << McpFailure::Unauthenticated;
    QTest::newRow("invalid argument") << int(ErrorCode::InvalidArgument) << McpFailure::CredentialsMisplaced;
    QTest::newRow("unavailable") << int(ErrorCode::Unavailable) << McpFailure::AuthenticationUnavailable;
    QTest::newRow("forbidden") << int(ErrorCode::Forbidden) << McpFailure::CallerForbidden;
    QTest::newRow("anything else") << int(ErrorCode::Internal) << McpFailure::CallerForbidden;
}

void tst_StatusTable::authFailures()
{
    QFETCH(int, code);
    QFETCH(McpFailure, failure);

    QCOMPARE(StatusTable::failureOf(AuthFailure{ErrorCode(code), {}, {}}), failure);
}

void tst_StatusTable::bodyErrors()
{
    QCOMPARE(StatusTable::failureOf(BodyError{JsonRpcError::ParseError, {}}), McpFailure::ParseError);
    QCOMPARE(StatusTable::failureOf(BodyError{JsonRpcError::InvalidRequest, {}}), McpFailure::InvalidRequest);
}

void tst_StatusTable::statelessFailures_data()
{
    QTest::addColumn<StatelessFailureKind>("kind");
    QTest::addColumn<McpFailure>("failure");
    QTest::addColumn<int>("status");

    QTest::newRow("not one request") << StatelessFailureKind::InvalidRequest << McpFailure::InvalidRequest
                                     << 400;
    QTest::newRow("unsupported version")
        << StatelessFailureKind::UnsupportedVersion << McpFailure::UnsupportedProtocolVersion << 400;
    QTest::newRow("header mismatch") << StatelessFailureKind::HeaderMismatch << McpFailure::HeaderMismatch
                                     << 400;
    QTest::newRow("_meta incomplete")
        << StatelessFailureKind::InvalidMeta << McpFailure::InvalidRequestMeta << 400;
    QTest::newRow("method not found")
        << StatelessFailureKind::MethodNotFound << McpFailure::UnknownMethod << 404;
}

// 2026-07-28 refusals: the status the revision prescribes, and the same
// JSON-RPC code the validator gives (the table writes it on the wire).
void tst_StatusTable::statelessFailures()
{
    QFETCH(StatelessFailureKind, kind);
    QFETCH(McpFailure, failure);
    QFETCH(int, status);

    QCOMPARE(StatusTable::failureOf(kind), failure);
    QCOMPARE(StatusTable::of(failure).status, status);
    QCOMPARE(StatusTable::of(failure).rpcCode, rpcCodeOf(kind));
}

// Session::post and openStream say why they refused; the kind, and so the
// status, follows from that alone.
void tst_StatusTable::sessionRefusals_data()
{
    QTest::addColumn<Refusal>("refusal");
    QTest::addColumn<McpFailure>("failure");
    QTest::addColumn<int>("status");

    QTest::newRow("POST: a request id still pending")
        << Refusal::DuplicateRequestId << McpFailure::DuplicateRequestId << 400;
    QTest::newRow("GET: the stream has a reader")
        << Refusal::StreamHasReader << McpFailure::StreamAlreadyOpen << 409;
    QTest::newRow("the session is ending") << Refusal::Ending << McpFailure::UnknownSession << 404;
}

void tst_StatusTable::sessionRefusals()
{
    QFETCH(Refusal, refusal);
    QFETCH(McpFailure, failure);
    QFETCH(int, status);

    QCOMPARE(StatusTable::failureOf(SessionRefusal{refusal, {}, {}}), failure);
    QCOMPARE(StatusTable::of(failure).status, status);
}

void tst_StatusTable::answers()
{
    QCOMPARE(StatusTable::statusOf(AnswerKind::Answered), 200);
    QCOMPARE(StatusTable::statusOf(AnswerKind::InitializeFailed), 502);
    QCOMPARE(StatusTable::statusOf(AnswerKind::InitializeUnavailable), 503);
    QCOMPARE(StatusTable::of(McpFailure::InitializeUnavailable).header, FailureHeader::RetryAfter);
    QCOMPARE(StatusTable::allowedMethods(), QByteArray("GET, POST, DELETE, OPTIONS"));
}

QTEST_GUILESS_MAIN(tst_StatusTable)
#include "tst_statustable.moc"
