#pragma once

#include <memory>

#include <QByteArray>
#include <QHostAddress>
#include <QJsonDocument>
#include <QJsonObject>
#include <QList>
#include <QTcpSocket>
#include <QTest>

namespace fmb::test {

// One HTTP response as a client reads it off the wire.
struct RawResponse {
    int status = 0;
    QByteArray head; // status line and headers, without the blank line
    QByteArray body; // the Content-Length body; empty for a chunked (streaming) response

    // The value of the first header called `name` (case-insensitive), or a null array.
    [[nodiscard]] QByteArray header(QByteArrayView name) const
    {
        const QList<QByteArray> lines = head.split('\n');
        for (const QByteArray &line : lines) {
            const qsizetype colon = line.indexOf(':');
            if (colon > 0 && line.left(colon).trimmed().compare(name, Qt::CaseInsensitive) == 0)
                return line.mid(colon + 1).trimmed();
        }
        return {};
    }
    [[nodiscard]] bool hasHeader(QByteArrayView name) const { return !header(name).isNull(); }
};

// The JSON-RPC messages of an SSE response read raw (chunk framing included).
inline QList<QJsonObject> sseMessages(const QByteArray &raw)
{
    QList<QJsonObject> out;
    const QList<QByteArray> lines = raw.split('\n');
    for (const QByteArray &line : lines) {
        if (line.startsWith("data: "))
            out.append(QJsonDocument::fromJson(line.mid(6).trimmed()).object());
    }
    return out;
}

// A keep-alive HTTP/1.1 client over a real socket, for tests of the
// server's wire behaviour. read() takes one response; for a chunked one it
// stops after the head, and chunks are read with readStream().
class RawHttpClient {
public:
    static constexpr int WaitMs = 10000;

    explicit RawHttpClient(quint16 port)
        : m_socket(std::make_unique<QTcpSocket>())
    {
        m_socket->connectToHost(QHostAddress::LocalHost, port);
        (void)m_socket->waitForConnected(WaitMs);
    }

    [[nodiscard]] QTcpSocket *socket() const { return m_socket.get(); }
    [[nodiscard]] bool connected() const { return m_socket->state() == QAbstractSocket::ConnectedState; }

    // Sends one request: `headers` are complete "Name: value" lines; Host
    // and (with a body) Content-Length are added.
    void send(QByteArrayView method, QByteArrayView target, const QList<QByteArray> &headers,
              const QByteArray &body = {})
    {
        QByteArray request = method.toByteArray() + ' ' + target.toByteArray() + " HTTP/1.1\r\n";
        bool host = false;
        for (const QByteArray &line : headers) {
            host = host || line.toLower().startsWith("host:");
            request += line + "\r\n";
        }
        if (!host)
            request += "Host: 127.0.0.1\r\n";
        if (!body.isEmpty() || method == "POST")
            request += "Content-Length: " + QByteArray::number(body.size()) + "\r\n";
        request += "\r\n" + body;
        m_socket->write(request);
        m_socket->flush();
    }

    // The next response (see the class comment); status 0 if none came.
    RawResponse read()
    {
        RawResponse response;
        (void)QTest::qWaitFor(
            [&] {
                m_buffer += m_socket->readAll();
                const qsizetype end = m_buffer.indexOf("\r\n\r\n");
                if (end < 0)
                    return false;
                response.head = m_buffer.left(end);
                const QByteArray length = response.header("content-length");
                if (response.header("transfer-encoding").isNull()) {
                    const qsizetype size = length.toLongLong();
                    if (m_buffer.size() < end + 4 + size)
                        return false;
                    response.body = m_buffer.mid(end + 4, size);
                    m_buffer.remove(0, end + 4 + size);
                } else {
                    m_buffer.remove(0, end + 4);
                }
                return true;
            },
            WaitMs);
        if (response.head.startsWith("HTTP/1.1 "))
            response.status = response.head.mid(9, 3).toInt();
        return response;
    }

    RawResponse exchange(QByteArrayView method, QByteArrayView target, const QList<QByteArray> &headers,
                         const QByteArray &body = {})
    {
        send(method, target, headers, body);
        return read();
    }

    // What a streaming response has sent so far, raw (chunk framing
    // included), once it contains `until` or the server closed; consumed.
    QByteArray readStream(QByteArrayView until)
    {
        (void)QTest::qWaitFor(
            [&] {
                m_buffer += m_socket->readAll();
                return m_buffer.contains(until) || !connected();
            },
            WaitMs);
        m_buffer += m_socket->readAll();
        QByteArray out;
        out.swap(m_buffer);
        return out;
    }

    // Whether the server closed the connection within WaitMs.
    bool waitClosed()
    {
        return QTest::qWaitFor(
            [&] {
                m_buffer += m_socket->readAll();
                return !connected();
            },
            WaitMs);
    }

private:
    std::unique_ptr<QTcpSocket> m_socket;
    QByteArray m_buffer;
};

} // namespace fmb::test
