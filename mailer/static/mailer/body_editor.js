// The e-mail body's editor (mailer/admin/body_editor.py): «Визуальный редактор» and «HTML»
// over the same field, and «Вставить переменную». The textarea (the HTML source) stays the
// truth: the visual editor writes its HTML back into it on every change.
(function () {
  // What the visual mode keeps; anything else is edited as HTML, never silently dropped.
  var ALLOWED = ["P", "BR", "DIV", "H1", "H2", "H3", "H4", "B", "STRONG", "I", "EM", "U", "S", "DEL",
                 "UL", "OL", "LI", "A", "BLOCKQUOTE", "PRE", "CODE", "SPAN"];

  // The body read into a document of its own with no window (it runs no script and loads
  // nothing), then copied tag by tag with no attribute except a link's address.
  function simpleCopy(html) {
    // Event-handler attributes are refused before parsing: even an inert document makes the
    // browser weigh them against the page's Content-Security-Policy.
    if (/\son[a-z]+\s*=/i.test(html)) { return {html: "", refused: ["обработчики событий (on…)"]}; }
    var source = document.implementation.createHTMLDocument("").body;
    source.innerHTML = html;
    var refused = [];
    function copy(node, into) {
      node.childNodes.forEach(function (child) {
        if (child.nodeType === Node.TEXT_NODE) {
          into.appendChild(document.createTextNode(child.textContent));
        } else if (child.nodeType === Node.ELEMENT_NODE) {
          if (ALLOWED.indexOf(child.tagName) < 0) { refused.push(child.tagName.toLowerCase()); return; }
          var element = document.createElement(child.tagName);
          if (child.tagName === "A" && child.getAttribute("href")) { element.setAttribute("href", child.getAttribute("href")); }
          copy(child, element);
          into.appendChild(element);
        }
      });
    }
    var copied = document.createElement("div");
    copy(source, copied);
    return {html: copied.innerHTML, refused: refused};
  }

  function setUp(box) {
    var textarea = document.getElementById(box.dataset.field);
    var wysiwyg = box.querySelector(".body-editor-wysiwyg");
    var editor = box.querySelector("trix-editor");
    var message = box.querySelector(".body-editor-message");
    var visualButton = box.querySelector(".body-editor-visual");
    var sourceButton = box.querySelector(".body-editor-source");
    var visual = false;

    function say(text) { message.textContent = text; message.hidden = !text; }
    function mark() {
      visualButton.classList.toggle("bg-primary-600", visual);
      visualButton.classList.toggle("text-white", visual);
      sourceButton.classList.toggle("bg-primary-600", !visual);
      sourceButton.classList.toggle("text-white", !visual);
    }
    function toVisual() {
      var copy = simpleCopy(textarea.value);
      if (copy.refused.length) {
        say("В визуальном редакторе не открыть: в письме есть " + Array.from(new Set(copy.refused)).join(", ") +
            ". Правьте его в режиме HTML.");
        return;
      }
      say("");
      editor.editor.loadHTML(copy.html);
      visual = true;
      wysiwyg.hidden = false;
      textarea.hidden = true;
      mark();
      try { localStorage.setItem("mailer.bodyEditor", "visual"); } catch (e) { /* private mode */ }
    }
    function toSource() {
      say("");
      visual = false;
      wysiwyg.hidden = true;
      textarea.hidden = false;
      mark();
      try { localStorage.setItem("mailer.bodyEditor", "source"); } catch (e) { /* private mode */ }
    }
    editor.addEventListener("trix-change", function () {
      if (visual) { textarea.value = editor.value; }
    });
    // No files into the body: attachments are the campaign's own.
    editor.addEventListener("trix-file-accept", function (event) { event.preventDefault(); });
    visualButton.addEventListener("click", toVisual);
    sourceButton.addEventListener("click", toSource);
    box.querySelector(".body-editor-variable").addEventListener("change", function (event) {
      var name = event.target.value;
      event.target.value = "";
      if (!name) { return; }
      var text = "{{ " + name + " }}";
      if (visual) {
        editor.editor.insertString(text);
        return;
      }
      var start = textarea.selectionStart, end = textarea.selectionEnd;
      textarea.setRangeText(text, start, end, "end");
      textarea.focus();
    });
    mark();
    var wanted = null;
    try { wanted = localStorage.getItem("mailer.bodyEditor"); } catch (e) { /* private mode */ }
    if (wanted === "visual" && !textarea.readOnly && !textarea.disabled) {
      if (editor.editor) { toVisual(); } else { editor.addEventListener("trix-initialize", toVisual, {once: true}); }
    }
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll(".mailer-body-editor").forEach(setUp);
  });
})();
