package api

import (
	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
)

// routes is the whole route table. Reads are open to every role; changes to the roster,
// campaigns and collaborations belong to ops.
func (s *Server) routes(e *echo.Echo, limitIP, limitKey echo.MiddlewareFunc) {
	e.GET("/healthz", s.healthz)
	e.GET("/readyz", s.readyz())
	e.GET("/openapi.json", openAPI)

	// SendGrid's webhooks authenticate with a signature (events) and basic auth (inbound);
	// Inbound Parse posts up to 30 MB.
	hooks := e.Group("/webhooks/sendgrid", limitIP, middleware.BodyLimit("32M"))
	hooks.POST("/events", s.sendgridEvents)
	hooks.POST("/inbound", s.sendgridInbound)

	// Unsubscribe links from emails: the signed token authorises them.
	u := e.Group("/u", pageHeaders(), limitIP, middleware.BodyLimit("16K"))
	u.GET("/:token", s.unsubscribeForm)
	u.POST("/:token", s.unsubscribe)

	// The creator portal: signed links from emails, forms behind a CSRF cookie.
	p := e.Group("/portal", pageHeaders(), limitIP, middleware.BodyLimit("64K"), portalCSRF(s.secureCookies))
	p.GET("/contracts/:token", s.contractPage)
	// A repeated post gets the first answer's status, not its page, which is not stored.
	linkKey := s.idempotentAs(linkIdentity, portalRepeat)
	p.POST("/contracts/:token", s.signContract, linkKey)
	p.GET("/content/:token", s.contentPage)
	p.POST("/content/:token", s.submitContent, linkKey)

	// The ops console: pages behind a session cookie; its actions call the routes below.
	s.consoleRoutes(e, limitIP)

	v1 := e.Group("/v1", limitIP, middleware.BodyLimit(MaxBody), s.authenticate, limitKey)
	read := allow(RoleOps, RoleReviewer, RoleFinance, RoleAuditor)
	ops := allow(RoleOps)
	// Changes to a collaboration take an Idempotency-Key scoped to the API key.
	once := s.idempotent(keyIdentity)

	v1.POST("/creators", s.createCreator, ops)
	v1.GET("/creators", s.listCreators, read)
	v1.GET("/creators/:id", s.getCreator, read)
	v1.PATCH("/creators/:id", s.patchCreator, ops)

	v1.POST("/campaigns", s.createCampaign, ops)
	v1.GET("/campaigns", s.listCampaigns, read)
	v1.GET("/campaigns/:id", s.getCampaign, read)
	// Qualification: the rules, the scored candidates and the approved roster launch uses.
	// Candidates and the roster are reads like the creators they list (GET /v1/creators/{id}
	// shows every role the same history), so every role may read them.
	v1.PUT("/campaigns/:id/fit", s.putCampaignFit, ops)
	v1.GET("/campaigns/:id/candidates", s.listCandidates, read)
	v1.POST("/campaigns/:id/roster", s.approveRoster, ops)
	v1.GET("/campaigns/:id/roster", s.listRoster, read)
	v1.DELETE("/campaigns/:id/roster/:creator_id", s.removeFromRoster, ops)

	v1.POST("/collaborations", s.startCollaboration, ops)
	v1.GET("/collaborations", s.listCollaborations, read)
	v1.GET("/collaborations/:id", s.getCollaboration, read)
	v1.POST("/collaborations/:id/cancel", s.cancelCollaboration, ops, once)
	v1.POST("/collaborations/:id/replies", s.recordReply, ops, once)
	v1.POST("/collaborations/:id/pause", s.pauseOutreach, ops, once)
	v1.POST("/collaborations/:id/resume", s.resumeOutreach, ops, once)
	v1.POST("/collaborations/:id/offers", s.makeOffer, ops, once)
	v1.POST("/collaborations/:id/accept", s.acceptOffer, ops, once)
	v1.POST("/collaborations/:id/decline", s.decline, ops, once)
	v1.GET("/collaborations/:id/contract", s.getContract, read)
	v1.POST("/collaborations/:id/drafts", s.submitDraft, ops, once)
	v1.POST("/collaborations/:id/drafts/:n/review", s.reviewDraft, allow(RoleOps, RoleReviewer), once)
	v1.POST("/collaborations/:id/posts", s.submitPost, ops, once)
	v1.POST("/collaborations/:id/verification/override", s.overrideVerification, ops, once)
	v1.POST("/collaborations/:id/resolve", s.resolveAttention, ops, once)
	v1.POST("/collaborations/:id/deadline/extend", s.extendDeadline, ops, once)
	v1.POST("/collaborations/:id/metrics", s.addMetrics, ops)
	v1.POST("/campaigns/:id/metrics", s.importMetrics, ops)
	v1.POST("/campaigns/:id/launch", s.launchCampaign, ops, once)
	v1.GET("/campaigns/:id/pipeline", s.campaignPipeline, read)
	v1.POST("/campaigns/:id/bulk", s.bulkAction, ops, once)
	v1.GET("/bulk-actions/:id", s.getBulkAction, read)
	v1.GET("/launches/:id", s.getLaunch, read)
	// Measure and iterate: the report is a read like the pipeline; the budget and the
	// experiment log steer the campaign, so they are ops'.
	v1.GET("/campaigns/:id/report", s.campaignReport, read)
	v1.PUT("/campaigns/:id/budget", s.putCampaignBudget, ops)
	v1.POST("/campaigns/:id/experiments", s.createExperiment, ops)
	v1.GET("/campaigns/:id/experiments", s.listExperiments, read)
	v1.GET("/campaigns/:id/experiments/:eid", s.getExperiment, read)
	v1.PATCH("/campaigns/:id/experiments/:eid", s.patchExperiment, ops)

	audit := allow(HistoryReaders...)
	v1.GET("/collaborations/:id/history", s.history, audit)
	v1.GET("/collaborations/:id/timeline", s.timeline, audit)
	v1.POST("/collaborations/:id/replay", s.replay, audit)

	v1.GET("/payouts", s.listPayouts, allow(RoleFinance, RoleOps, RoleAuditor))
	v1.POST("/payouts/:id/confirm", s.confirmPayout, allow(RoleFinance), once)
	v1.GET("/collaborations/:id/emails", s.listEmails, read)
	v1.GET("/collaborations/:id/notes", s.listNotes, allow(RoleOps, RoleAuditor))
	v1.DELETE("/creators/:id", s.eraseCreator, ops)
}
