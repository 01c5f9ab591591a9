package api

import "github.com/labstack/echo/v4"

// routes is the whole route table. Reads are open to every role; changes to the roster,
// campaigns and collaborations belong to ops.
func (s *Server) routes(e *echo.Echo, limitIP, limitKey echo.MiddlewareFunc) {
	e.GET("/healthz", s.healthz)

	v1 := e.Group("/v1", limitIP, s.authenticate, limitKey)
	read := allow(RoleOps, RoleReviewer, RoleFinance, RoleAuditor)
	ops := allow(RoleOps)

	v1.POST("/creators", s.createCreator, ops)
	v1.GET("/creators", s.listCreators, read)
	v1.GET("/creators/:id", s.getCreator, read)
	v1.PATCH("/creators/:id", s.patchCreator, ops)

	v1.POST("/campaigns", s.createCampaign, ops)
	v1.GET("/campaigns", s.listCampaigns, read)
	v1.GET("/campaigns/:id", s.getCampaign, read)

	v1.POST("/collaborations", s.startCollaboration, ops)
	v1.GET("/collaborations", s.listCollaborations, read)
	v1.GET("/collaborations/:id", s.getCollaboration, read)
	v1.POST("/collaborations/:id/cancel", s.cancelCollaboration, ops)
}
