#include "SessionTableModel.h"

#include <QBrush>
#include <QColor>
#include <QDateTime>
#include <QLocale>

namespace fmb {
namespace {

constexpr qsizetype ShortIdLength = 12;
// A session id ends in 192 random bits as hex, after the broker's node id
// (issue 14); the short form shows the random part, which tells sessions apart.
constexpr qsizetype RandomIdHexDigits = 48;

QDateTime local(qint64 ms)
{
    return QDateTime::fromMSecsSinceEpoch(ms);
}

} // namespace

SessionTableModel::SessionTableModel(QObject *parent)
    : QAbstractTableModel(parent)
    , m_nowMs(QDateTime::currentMSecsSinceEpoch())
{}

SessionTableModel::~SessionTableModel() = default;

int SessionTableModel::rowCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : int(m_rows.size());
}

int SessionTableModel::columnCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : ColumnCount;
}

QVariant SessionTableModel::headerData(int section, Qt::Orientation orientation, int role) const
{
    if (orientation != Qt::Horizontal)
        return {};
    if (role == Qt::DisplayRole) {
        switch (section) {
        case IdColumn:
            return tr("Session");
        case UserColumn:
            return tr("User");
        case ClientColumn:
            return tr("Client");
        case CreatedColumn:
            return tr("Created");
        case LastActiveColumn:
            return tr("Last active");
        case IdleColumn:
            return tr("Idle");
        case TokenColumn:
            return tr("Token expires");
        case PidColumn:
            return tr("Child PID");
        case StateColumn:
            return tr("State");
        default:
            return {};
        }
    }
    if (role == Qt::ToolTipRole) {
        switch (section) {
        case IdColumn:
            return tr("The MCP session id (Mcp-Session-Id), shortened");
        case IdleColumn:
            return tr("Time since the client last sent anything; \"active\" while a stream is open or a "
                      "request waits");
        case TokenColumn:
            return tr("When the upstream Forgejo token of the session expires; the broker refreshes it "
                      "%n second(s) before",
                      nullptr, m_refreshLeadSeconds);
        case PidColumn:
            return tr("Process id of the session's MCP server");
        default:
            return {};
        }
    }
    return {};
}

qint64 SessionTableModel::idleSeconds(const Row &row) const
{
    if (row.info.active)
        return 0;
    // From the last activity, so Idle and Last active agree; the broker's
    // idle count is only the fallback.
    if (row.info.lastActiveMs > 0)
        return std::max<qint64>(0, m_nowMs - row.info.lastActiveMs) / 1000;
    return std::max<qint64>(0, row.info.idleMs + (m_nowMs - row.receivedMs)) / 1000;
}

SessionTableModel::TokenStatus SessionTableModel::tokenStatus(qint64 expiresMs) const
{
    if (expiresMs <= 0)
        return TokenStatus::None;
    if (expiresMs <= m_nowMs)
        return TokenStatus::Expired;
    if (expiresMs - m_nowMs <= qint64(m_refreshLeadSeconds) * 1000)
        return TokenStatus::Expiring;
    return TokenStatus::Valid;
}

QString SessionTableModel::tokenText(qint64 expiresMs) const
{
    switch (tokenStatus(expiresMs)) {
    case TokenStatus::None:
        return tr("no token");
    case TokenStatus::Expired:
        return tr("expired");
    case TokenStatus::Valid:
    case TokenStatus::Expiring:
        break;
    }
    return durationText((expiresMs - m_nowMs + 999) / 1000);
}

QString SessionTableModel::tokenToolTip(qint64 expiresMs) const
{
    const QString at = QLocale().toString(local(expiresMs), QLocale::LongFormat);
    switch (tokenStatus(expiresMs)) {
    case TokenStatus::None:
        return tr("No upstream token: the broker runs in local mode (no OAuth)");
    case TokenStatus::Expired:
        return tr("The upstream token expired at %1 (%2 ago)")
            .arg(at, durationText((m_nowMs - expiresMs) / 1000));
    case TokenStatus::Expiring:
        return tr("The upstream token expires at %1, within the refresh lead of %2: the broker should "
                  "refresh "
                  "it now")
            .arg(at, durationText(m_refreshLeadSeconds));
    case TokenStatus::Valid:
        break;
    }
    return tr("The upstream token expires at %1").arg(at);
}

QString SessionTableModel::durationText(qint64 seconds)
{
    seconds = std::max<qint64>(0, seconds);
    if (seconds < 60)
        return tr("%1s").arg(seconds);
    if (seconds < 3600)
        return tr("%1m %2s").arg(seconds / 60).arg(seconds % 60, 2, 10, QLatin1Char('0'));
    if (seconds < 86400)
        return tr("%1h %2m").arg(seconds / 3600).arg((seconds % 3600) / 60, 2, 10, QLatin1Char('0'));
    return tr("%1d %2h").arg(seconds / 86400).arg((seconds % 86400) / 3600, 2, 10, QLatin1Char('0'));
}

QString SessionTableModel::shortId(const QString &id)
{
    const QString random = id.right(RandomIdHexDigits);
    return random.size() > ShortIdLength ? random.left(ShortIdLength) + QChar(0x2026) : random;
}

QVariant SessionTableModel::display(const Row &row, int column) const
{
    const SessionInfo &info = row.info;
    switch (column) {
    case IdColumn:
        return shortId(info.id);
    case UserColumn:
        return info.user;
    case ClientColumn:
        if (info.isUserChild())
            return tr("user child (%1 in flight)").arg(info.pendingRequests);
        return info.client.isEmpty() ? tr("(not yet known)") : info.client;
    case CreatedColumn:
        return info.createdMs > 0 ? QLocale().toString(local(info.createdMs), QLocale::ShortFormat)
                                  : QString();
    case LastActiveColumn:
        return info.lastActiveMs > 0
                   ? tr("%1 ago").arg(durationText(std::max<qint64>(0, m_nowMs - info.lastActiveMs) / 1000))
                   : QString();
    case IdleColumn:
        return info.active ? tr("active") : durationText(idleSeconds(row));
    case TokenColumn:
        return tokenText(info.tokenExpiresMs);
    case PidColumn:
        return info.childPid > 0 ? QString::number(info.childPid) : QStringLiteral("\u2014");
    case StateColumn:
        if (info.state == QLatin1String("starting"))
            return tr("starting");
        if (info.state == QLatin1String("ready"))
            return tr("ready");
        if (info.state == QLatin1String("respawning"))
            return tr("respawning");
        if (info.state == QLatin1String("stopping"))
            return tr("stopping");
        return info.state;
    default:
        return {};
    }
}

QVariant SessionTableModel::sortValue(const Row &row, int column) const
{
    const SessionInfo &info = row.info;
    switch (column) {
    case IdColumn:
        return info.id;
    case UserColumn:
        return info.user;
    case ClientColumn:
        return info.client;
    case CreatedColumn:
        return info.createdMs;
    case LastActiveColumn:
        return info.lastActiveMs;
    case IdleColumn:
        return idleSeconds(row);
    case TokenColumn:
        // No token sorts last.
        return info.tokenExpiresMs > 0 ? info.tokenExpiresMs : std::numeric_limits<qint64>::max();
    case PidColumn:
        return info.childPid;
    case StateColumn:
        return info.state;
    default:
        return {};
    }
}

QVariant SessionTableModel::data(const QModelIndex &index, int role) const
{
    if (!index.isValid() || index.row() >= m_rows.size())
        return {};
    const Row &row = m_rows.at(index.row());
    const int column = index.column();
    switch (role) {
    case Qt::DisplayRole:
        return display(row, column);
    case SortRole:
        return sortValue(row, column);
    case SessionIdRole:
        return row.info.id;
    case TokenStatusRole:
        return int(tokenStatus(row.info.tokenExpiresMs));
    case Qt::ToolTipRole:
        if (column == IdColumn)
            return row.info.id;
        if (column == TokenColumn)
            return tokenToolTip(row.info.tokenExpiresMs);
        if (column == CreatedColumn || column == LastActiveColumn) {
            const qint64 ms = column == CreatedColumn ? row.info.createdMs : row.info.lastActiveMs;
            return ms > 0 ? QLocale().toString(local(ms), QLocale::LongFormat) : QVariant();
        }
        return {};
    case Qt::ForegroundRole:
        if (column == TokenColumn) {
            switch (tokenStatus(row.info.tokenExpiresMs)) {
            case TokenStatus::Expired:
                return QBrush(QColor(0xb0, 0x00, 0x20));
            case TokenStatus::Expiring:
                return QBrush(QColor(0x8a, 0x4b, 0x00));
            case TokenStatus::None:
                return QBrush(QColor(0x70, 0x70, 0x70));
            case TokenStatus::Valid:
                break;
            }
        }
        if (column == PidColumn && row.info.childPid <= 0)
            return QBrush(QColor(0x70, 0x70, 0x70));
        return {};
    case Qt::BackgroundRole:
        if (column == TokenColumn) {
            switch (tokenStatus(row.info.tokenExpiresMs)) {
            case TokenStatus::Expired:
                return QBrush(QColor(0xfd, 0xd8, 0xdc));
            case TokenStatus::Expiring:
                return QBrush(QColor(0xff, 0xec, 0xc2));
            default:
                break;
            }
        }
        return {};
    case Qt::TextAlignmentRole:
        if (column == PidColumn || column == IdleColumn || column == TokenColumn)
            return int(Qt::AlignRight | Qt::AlignVCenter);
        return {};
    case Qt::FontRole:
        return {};
    default:
        return {};
    }
}

void SessionTableModel::setSessions(const QList<SessionInfo> &sessions)
{
    QStringList wanted;
    for (const SessionInfo &info : sessions)
        wanted.append(info.id);
    for (int row = int(m_rows.size()) - 1; row >= 0; --row) {
        if (!wanted.contains(m_rows.at(row).info.id)) {
            beginRemoveRows({}, row, row);
            m_rows.removeAt(row);
            endRemoveRows();
        }
    }
    for (const SessionInfo &info : sessions)
        upsert(info);
}

void SessionTableModel::upsert(const SessionInfo &info)
{
    const qint64 received = QDateTime::currentMSecsSinceEpoch();
    const int row = rowOf(info.id);
    if (row >= 0) {
        m_rows[row] = Row{info, received};
        Q_EMIT dataChanged(index(row, 0), index(row, ColumnCount - 1));
        return;
    }
    const int at = int(m_rows.size());
    beginInsertRows({}, at, at);
    m_rows.append(Row{info, received});
    endInsertRows();
}

void SessionTableModel::remove(const QString &id)
{
    const int row = rowOf(id);
    if (row < 0)
        return;
    beginRemoveRows({}, row, row);
    m_rows.removeAt(row);
    endRemoveRows();
}

void SessionTableModel::clear()
{
    if (m_rows.isEmpty())
        return;
    beginResetModel();
    m_rows.clear();
    endResetModel();
}

int SessionTableModel::rowOf(const QString &id) const
{
    for (int row = 0; row < m_rows.size(); ++row) {
        if (m_rows.at(row).info.id == id)
            return row;
    }
    return -1;
}

SessionInfo SessionTableModel::sessionAt(int row) const
{
    return row >= 0 && row < m_rows.size() ? m_rows.at(row).info : SessionInfo{};
}

QList<SessionInfo> SessionTableModel::sessions() const
{
    QList<SessionInfo> list;
    for (const Row &row : m_rows)
        list.append(row.info);
    return list;
}

void SessionTableModel::setNow(qint64 nowMs)
{
    m_nowMs = nowMs;
    if (m_rows.isEmpty())
        return;
    Q_EMIT dataChanged(index(0, LastActiveColumn), index(int(m_rows.size()) - 1, TokenColumn));
}

void SessionTableModel::setRefreshLeadSeconds(int seconds)
{
    m_refreshLeadSeconds = seconds;
    setNow(m_nowMs);
}

} // namespace fmb
