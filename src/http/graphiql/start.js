// Starts GraphiQL against this server: queries over POST /graphql, subscriptions over
// /graphql/ws (graphql-transport-ws). A file, not an inline script, so the page's CSP can
// allow scripts from this server only.
(function () {
  function url(path, websocket) {
    var u = new URL(path, window.location.origin);
    if (websocket) {
      u.protocol = u.protocol === "https:" ? "wss:" : "ws:";
    }
    return u.toString();
  }
  var fetcher = GraphiQL.createFetcher({
    url: url("/graphql"),
    subscriptionUrl: url("/graphql/ws", true),
    fetch: function (input, init) {
      return fetch(input, Object.assign({}, init, { credentials: "same-origin" }));
    },
  });
  ReactDOM.createRoot(document.getElementById("graphiql")).render(
    React.createElement(GraphiQL, { fetcher: fetcher, defaultEditorToolsVisibility: true })
  );
})();
