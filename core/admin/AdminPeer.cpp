#include "AdminPeer.h"

#include <QLocalSocket>

#include "Logging.h"

namespace fmb {

AdminPeer::AdminPeer(quint64 id, QLocalSocket *socket, qsizetype maxLineBytes, qint64 maxQueuedBytes,
                     QObject *parent)
    : QObject(parent)
    , m_id(id)
    , m_socket(socket)
    , m_reader(maxLineBytes)
    , m_maxLineBytes(maxLineBytes)
    , m_maxQueuedBytes(maxQueuedBytes)
{
    socket->setParent(this);
}

AdminPeer::~AdminPeer() = default;

bool AdminPeer::isOpen() const
{
    return !m_closed && m_socket && m_socket->state() == QLocalSocket::ConnectedState;
}

void AdminPeer::start()
{
    connect(m_socket, &QLocalSocket::readyRead, this, &AdminPeer::onReadyRead);
    connect(m_socket, &QLocalSocket::disconnected, this, &AdminPeer::onDisconnected);
    if (m_socket->state() != QLocalSocket::ConnectedState) {
        QMetaObject::invokeMethod(this, &AdminPeer::onDisconnected, Qt::QueuedConnection);
        return;
    }
    if (m_socket->bytesAvailable() > 0)
        QMetaObject::invokeMethod(this, &AdminPeer::onReadyRead, Qt::QueuedConnection);
}

void AdminPeer::send(const QByteArray &line)
{
    if (!isOpen())
        return;
    if (m_socket->bytesToWrite() + line.size() > m_maxQueuedBytes) {
        qCWarning(lcAdmin).noquote() << "admin client" << m_id
                                     << "is not reading:" << m_socket->bytesToWrite()
                                     << "bytes wait unsent (limit" << m_maxQueuedBytes << "); dropping it";
        abort();
        return;
    }
    m_socket->write(line);
}

void AdminPeer::sendAndClose(const QByteArray &line)
{
    send(line);
    m_closing = true;
    if (m_socket && !m_closed)
        m_socket->disconnectFromServer(); // writes what is queued first
}

void AdminPeer::abort()
{
    m_closing = true;
    if (m_socket && !m_closed)
        m_socket->abort();
    onDisconnected();
}

void AdminPeer::onReadyRead()
{
    if (!m_socket)
        return;
    while (!m_closing && m_socket && m_socket->bytesAvailable() > 0) {
        const QByteArray bytes = m_socket->read(64 * 1024);
        const AdminLineReader::Chunk chunk = m_reader.feed(bytes);
        for (const QByteArray &line : chunk.lines) {
            if (m_closing)
                return;
            Q_EMIT requestReceived(m_id, parseAdminRequest(line));
        }
        if (chunk.overflow && !m_closing) {
            qCWarning(lcAdmin).noquote()
                << "admin client" << m_id << "sent a line over" << m_maxLineBytes << "bytes; closing it";
            sendAndClose(encodeAdminError(
                QJsonValue::Null, AdminErrorCode::LineTooLong,
                QStringLiteral("request line longer than the limit of %1 bytes").arg(m_maxLineBytes)));
            return;
        }
    }
    if (m_closing && m_socket)
        m_socket->readAll(); // discard what follows a close
}

void AdminPeer::onDisconnected()
{
    if (m_closed)
        return;
    m_closed = true;
    m_closing = true;
    Q_EMIT closed(m_id);
}

} // namespace fmb
