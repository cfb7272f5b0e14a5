#include "StdinReader.h"

#include <cerrno>
#include <utility>

#include <unistd.h>

#include <QSocketNotifier>

namespace fmb::testserver {

StdinReader::StdinReader(QObject *parent)
    : QObject(parent)
{}

void StdinReader::start()
{
    m_notifier = new QSocketNotifier(STDIN_FILENO, QSocketNotifier::Read, this);
    connect(m_notifier, &QSocketNotifier::activated, this, &StdinReader::readAvailable);
}

void StdinReader::readAvailable()
{
    if (m_finished)
        return;
    char chunk[65536];
    const ssize_t n = ::read(STDIN_FILENO, chunk, sizeof chunk);
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return;
    if (n <= 0) {
        // A final line without "\n" still counts as a message.
        m_finished = true;
        m_notifier->setEnabled(false);
        if (!m_buffer.isEmpty())
            Q_EMIT lineReceived(std::exchange(m_buffer, {}));
        Q_EMIT finished();
        return;
    }
    m_buffer.append(chunk, n);
    qsizetype start = 0;
    for (qsizetype nl = m_buffer.indexOf('\n'); nl >= 0; nl = m_buffer.indexOf('\n', start)) {
        QByteArray line = m_buffer.mid(start, nl - start);
        start = nl + 1;
        if (line.endsWith('\r'))
            line.chop(1);
        if (!line.trimmed().isEmpty())
            Q_EMIT lineReceived(line);
    }
    m_buffer.remove(0, start);
}

} // namespace fmb::testserver
