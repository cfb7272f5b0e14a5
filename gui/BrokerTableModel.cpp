#include "BrokerTableModel.h"

#include <QBrush>
#include <QColor>

#include "SessionTableModel.h"

namespace fmb {

BrokerTableModel::BrokerTableModel(QObject *parent)
    : QAbstractTableModel(parent)
{}

int BrokerTableModel::rowCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : int(m_rows.size());
}

int BrokerTableModel::columnCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : ColumnCount;
}

QVariant BrokerTableModel::headerData(int section, Qt::Orientation orientation, int role) const
{
    if (orientation != Qt::Horizontal || role != Qt::DisplayRole)
        return {};
    switch (section) {
    case BrokerColumn:
        return tr("Broker");
    case HostColumn:
        return tr("Host");
    case HeartbeatColumn:
        return tr("Last heartbeat");
    case SessionsColumn:
        return tr("Sessions");
    case StateColumn:
        return tr("State");
    case ConsoleColumn:
        return tr("Admin socket");
    default:
        return {};
    }
}

BrokerTableModel::State BrokerTableModel::stateOf(const Row &row)
{
    if (!row.problem.isEmpty())
        return State::Unreachable;
    if (row.status.stoppedMs > 0)
        return State::Stopped;
    return row.status.stale ? State::Stale : State::Up;
}

QString BrokerTableModel::stateText(State state) const
{
    switch (state) {
    case State::Up:
        return tr("up");
    case State::Stale:
        return tr("stale");
    case State::Stopped:
        return tr("stopped");
    case State::Unreachable:
        return tr("not answering");
    }
    return {};
}

BrokerTableModel::State BrokerTableModel::stateAt(int row) const
{
    return stateOf(m_rows.at(row));
}

QVariant BrokerTableModel::data(const QModelIndex &index, int role) const
{
    if (!index.isValid() || index.row() >= m_rows.size())
        return {};
    const Row &row = m_rows.at(index.row());
    const State state = stateOf(row);
    if (role == StateRole)
        return int(state);
    if (role == Qt::ForegroundRole && index.column() == StateColumn && state != State::Up &&
        state != State::Stopped)
        return QBrush(QColor(0xb0, 0x20, 0x20));
    if (role == Qt::ToolTipRole) {
        if (!row.problem.isEmpty())
            return row.problem;
        if (state == State::Stale)
            return tr("No heartbeat for more than %1: the broker was killed, hangs or cannot reach the "
                      "database")
                .arg(SessionTableModel::durationText(row.status.staleAfterMs / 1000));
        return {};
    }
    if (role != Qt::DisplayRole)
        return {};
    switch (index.column()) {
    case BrokerColumn:
        return row.status.nodeId;
    case HostColumn:
        return row.status.host;
    case HeartbeatColumn:
        if (!row.known || row.status.heartbeatMs <= 0)
            return QStringLiteral("-");
        return tr("%1 ago").arg(SessionTableModel::durationText(row.status.heartbeatAgeMs / 1000));
    case SessionsColumn:
        return row.known ? QVariant(row.status.sessions) : QVariant(QStringLiteral("-"));
    case StateColumn:
        return stateText(state == State::Unreachable && row.known && row.status.stale ? State::Stale : state);
    case ConsoleColumn:
        if (!row.problem.isEmpty())
            return tr("not answering");
        return row.status.self ? tr("connected") : tr("not a target");
    default:
        return {};
    }
}

int BrokerTableModel::rowOf(const QString &broker) const
{
    for (int i = 0; i < m_rows.size(); ++i) {
        if (m_rows.at(i).status.nodeId == broker)
            return i;
    }
    return -1;
}

void BrokerTableModel::setBrokers(const QList<BrokerStatus> &brokers, const QList<Unreachable> &unreachable)
{
    beginResetModel();
    m_rows.clear();
    for (const BrokerStatus &status : brokers)
        m_rows.append(Row{status, true, QString()});
    for (const Unreachable &target : unreachable) {
        const int at = rowOf(target.broker);
        if (at >= 0) {
            m_rows[at].problem = target.problem;
            continue;
        }
        Row row;
        row.status.nodeId = target.broker;
        row.problem = target.problem;
        m_rows.append(row);
    }
    endResetModel();
}

} // namespace fmb
