// Starts Swagger UI on /api/docs. A file of its own, not inline, so the page keeps the app's
// content-security policy (script-src 'self'); the bundle comes from the installed package.
const root = document.getElementById("swagger-ui");

window.SwaggerUIBundle({
  url: root.dataset.openapiUrl,
  domNode: root,
  deepLinking: true,
  validatorUrl: null, // no calls to an outside validator
  tryItOutEnabled: false,
  presets: [window.SwaggerUIBundle.presets.apis],
});
