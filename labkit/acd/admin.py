"""Run-time configuration (what REST changes) and the leak counters soak and tests read.

Mixed into AcdServer (labkit.acd.server): ``self`` is the server, whose state it shares.
"""
from __future__ import annotations

from .core import Agent, Queue


class Admin:
    """Queues and agents added, removed or paused at run time; the health counters."""

    # ---- run-time configuration (REST) -----------------------------------------------------
    def add_queue(self, queue: Queue) -> None:
        if queue.name in self.queues:
            raise ValueError(f"queue {queue.name!r} exists")
        if queue.name in (self.cfg.login_user, self.cfg.logout_user) or queue.name in self.agents:
            raise ValueError(f"{queue.name!r} is already an agent or service name")
        self.queues[queue.name] = queue
        self.qlog.write("", queue.name, "", "ADDQUEUE", queue.strategy)
        self._pbx_register(queue.name)

    def remove_queue(self, name: str) -> None:
        q = self.queues[name]
        if q.calls:
            raise RuntimeError(f"queue {name!r} still has {len(q.calls)} call(s)")
        del self.queues[name]
        for a in self.agents.values():
            if name in a.memberof:
                a.memberof.remove(name)
        self.qlog.write("", name, "", "REMOVEQUEUE")
        self._pbx_unregister(name)

    def add_agent(self, agent: Agent) -> None:
        if agent.id in self.agents:
            raise ValueError(f"agent {agent.id!r} exists")
        self.agents[agent.id] = agent
        for q in agent.memberof:
            self.qlog.write("", q, agent.id, "ADDMEMBER")

    def remove_agent(self, agent_id: str) -> None:
        agent = self.agents[agent_id]
        if agent.call is not None:
            raise RuntimeError(f"agent {agent_id} is on a call")
        self.logout_agent(agent, "removed")
        del self.agents[agent_id]
        for q in agent.memberof:
            self.qlog.write("", q, agent_id, "REMOVEMEMBER")

    def end_call(self, call_id: str) -> None:
        """Hang a call up from REST (BYE to the caller and to its agent, if any): the way out
        for a call whose caller vanished without a BYE when no OPTIONS probe runs."""
        call = self.calls[call_id]
        caller = call.ext.get("caller")
        self.qlog.write(call.id, call.queue.name if call.queue else "", "", "HANGUP", "rest")
        self._hangup(caller)
        self._caller_gone(call)

    def set_paused(self, agent: Agent, paused: bool) -> None:
        agent.paused = paused
        if not paused:
            agent.missed = 0
        self.qlog.write("", "NONE", agent.id, "PAUSE" if paused else "UNPAUSE", "rest")
        if not paused:
            self._dispatch()

    # ---- health ----------------------------------------------------------------------------
    def leaks(self) -> dict[str, int]:
        """Everything that should be empty once no call is up: used by soak and tests."""
        return {"calls": len(self.calls),
                "queued": sum(len(q.calls) for q in self.queues.values()),
                "call_legs": sum(1 for leg in self.legs.values() if leg.kind != "login"),
                "legs": len(self.legs),
                "offers": len(self.offers),
                "server_txns": len(self.ep.server_txns) if self.ep else 0,
                "client_txns": len(self.ep.client_txns) if self.ep else 0,
                "pending_2xx": len(self.ep.pending_2xx) if self.ep else 0,
                "overdue_txns": self.ep.overdue() if self.ep else 0,
                "media": self.player.active()}
