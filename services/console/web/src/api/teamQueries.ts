import { queryOptions, useQuery } from "@tanstack/react-query";
import { allocator } from "./clients";
import type { components } from "./generated/allocator";
import { unwrap } from "./http";
import { agentQuery, useMe } from "./queries";
import { isSupervisor } from "./roles";
import { useSession } from "./session";

type AllocatorSchemas = components["schemas"];
export type DealMarkRow = AllocatorSchemas["DealMarkRow"];
export type AbilityWeights = AllocatorSchemas["AbilityWeights"];
export type UnplacedLead = AllocatorSchemas["LeadView"];

/** The teams the signed-in supervisor covers: the session's team, else the roster's; without either (a line
 * manager, an admin), the teams the allocator lets them list. */
export function useMyTeams(): { teams: string[]; isLoading: boolean } {
  const session = useSession();
  const me = useMe();
  const user = session.data?.user;
  const supervisor = isSupervisor(user?.roles ?? []);
  const agent = useQuery({ ...agentQuery(me), enabled: supervisor && Boolean(me) && !user?.team, retry: false });
  const rosterTeam = agent.data?.team_id ?? null;
  const listed = useQuery({
    queryKey: ["teams"],
    enabled: supervisor && !user?.team && !agent.isPending && !rosterTeam,
    queryFn: () => unwrap(allocator.GET("/v1/teams")),
  });
  if (!supervisor) return { teams: [], isLoading: false };
  if (user?.team) return { teams: [user.team], isLoading: false };
  if (rosterTeam) return { teams: [rosterTeam], isLoading: false };
  return { teams: (listed.data ?? []).map((team) => team.team_id), isLoading: agent.isPending || listed.isLoading };
}

/** The team's deal-in-progress requests waiting for approval (allocator GET /v1/teams/{id}/deal-marks):
 * the same list for every supervisor of the team; refreshed by the deal-mark notifications (["deal-marks"]). */
export const teamDealMarksQuery = (teamId: string) =>
  queryOptions({
    queryKey: ["deal-marks", teamId, "requested"],
    refetchInterval: 60_000,
    queryFn: async () => {
      const rows: DealMarkRow[] = [];
      let cursor: string | undefined;
      // Every page: a team rarely has more than a few dozen requests waiting.
      for (let page = 0; page < 10; page += 1) {
        const body = await unwrap(
          allocator.GET("/v1/teams/{team_id}/deal-marks", {
            params: { path: { team_id: teamId }, query: { state: "requested", limit: 200, cursor } },
          }),
        );
        rows.push(...body.items);
        if (!body.next_cursor) break;
        cursor = body.next_cursor;
      }
      return rows;
    },
  });

/** The measured weights 能力+平均 gives the team's agents (allocator GET /v1/teams/{id}/ability-weights). */
export const abilityWeightsQuery = (teamId: string) =>
  queryOptions({
    queryKey: ["ability-weights", teamId],
    queryFn: () =>
      unwrap(allocator.GET("/v1/teams/{team_id}/ability-weights", { params: { path: { team_id: teamId } } })),
  });
