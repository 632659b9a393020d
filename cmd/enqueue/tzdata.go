package main

// Daily budgets (ratelimit.DefaultLocation, Asia/Shanghai) must load their
// zone on machines without a zone database, such as a distroless image.
import _ "time/tzdata"
